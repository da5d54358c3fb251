"""Identifiers: agents, sessions (the NatStack partition grammar) and UUIDv7.

A session id is either ``{mode}_{type}_{identifier}`` (mode ``safe|unsafe``,
type ``auto|named``, identifier ``[A-Za-z0-9._~-]{1,200}``) or a UUID, which is
always mode ``safe``. This module is the only place that knows the grammar: it
parses, validates and builds ids, and derives them for ``resolve``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

import uuid_utils.compat

from sessionbox.errors import AgentIdInvalid, PanelPathInvalid, SessionIdInvalid

Mode = Literal["safe", "unsafe"]
SessionType = Literal["auto", "named", "uuid"]
MODES: tuple[Mode, ...] = ("safe", "unsafe")

_AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PARTITION_RE = re.compile(r"(safe|unsafe)_(auto|named)_([A-Za-z0-9._~-]{1,200})")
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_SEGMENT_RE = re.compile(r"[A-Za-z0-9._-]{1,200}")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
# The grammars as anchored patterns, for the OpenAPI document.
AGENT_ID_PATTERN = f"^(?:{_AGENT_RE.pattern}|{_UUID_RE.pattern})$"
SESSION_ID_PATTERN = f"^(?:{_UUID_RE.pattern}|{_PARTITION_RE.pattern})$"


@dataclass(frozen=True, slots=True)
class SessionId:
    """A parsed session id; ``str(sid)`` gives the canonical text back."""

    mode: Mode
    type: SessionType
    identifier: str

    def __str__(self) -> str:
        if self.type == "uuid":
            return self.identifier
        return f"{self.mode}_{self.type}_{self.identifier}"

    @property
    def partition(self) -> str:
        return f"persist:{self}"


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 v7), so ids sort by creation."""
    return uuid_utils.compat.uuid7()  # a stdlib UUID, made in Rust


_new_uuid = object.__new__
_set_attr = object.__setattr__


def uuid_from_column(text: str) -> uuid.UUID:
    """A UUID the store wrote as text, read back without ``uuid.UUID``'s re-validation.

    Listings decode one per entry: this takes 0.5 µs where ``uuid.UUID(text)`` takes 0.9.
    Hex digits with or without hyphens give what ``uuid.UUID`` gives, and a text it
    refuses is a ``ValueError`` here too (only its ``{...}`` and ``urn:uuid:`` forms,
    which the store never writes, are refused here).
    """
    digits = text.replace("-", "")
    if len(digits) != 32:
        raise ValueError(f"not a stored UUID: {text!r}")
    value = _new_uuid(uuid.UUID)
    _set_attr(value, "int", int(digits, 16))
    _set_attr(value, "is_safe", uuid.SafeUUID.unknown)
    return value


def validate_agent_id(agent_id: str) -> str:
    if isinstance(agent_id, str) and (
        _AGENT_RE.fullmatch(agent_id) or _UUID_RE.fullmatch(agent_id)
    ):
        return agent_id
    raise AgentIdInvalid(
        f"agent id must match [A-Za-z0-9][A-Za-z0-9._-]{{0,127}} or be a UUID: {agent_id!r}"
    )


def parse_session_id(text: str) -> SessionId:
    """Parse a session id: a hyphenated UUID (any case, kept lowercase) or the grammar."""
    if isinstance(text, str):
        if _UUID_RE.fullmatch(text):
            return SessionId("safe", "uuid", text.lower())
        match = _PARTITION_RE.fullmatch(text)
        if match:
            mode, kind, identifier = match.groups()
            return SessionId(mode, kind, identifier)  # type: ignore[arg-type]
    raise SessionIdInvalid(
        "session id must be a UUID or {safe|unsafe}_{auto|named}_{identifier} "
        f"with identifier [A-Za-z0-9._~-]{{1,200}}: {text!r}"
    )


def build_session_id(mode: Mode, type_: Literal["auto", "named"], identifier: str) -> SessionId:
    if mode not in MODES:
        raise SessionIdInvalid(f"mode must be 'safe' or 'unsafe': {mode!r}")
    if type_ not in ("auto", "named"):
        raise SessionIdInvalid(f"type must be 'auto' or 'named': {type_!r}")
    if not isinstance(identifier, str) or not _IDENTIFIER_RE.fullmatch(identifier):
        raise SessionIdInvalid(f"identifier must match [A-Za-z0-9._~-]{{1,200}}: {identifier!r}")
    return SessionId(mode, type_, identifier)


def new_uuid_session_id() -> SessionId:
    return SessionId("safe", "uuid", str(uuid7()))


def random_identifier() -> str:
    """64 random bits in hex: the name of a new session, or an unnamed child's nonce."""
    return secrets.token_hex(8)


def validate_panel_path(panel_path: str) -> str:
    """A panel's tree path: ``panels/editor``. Segments ``[A-Za-z0-9._-]+``, never ``.``/``..``.

    ``~`` is refused because it stands for ``/`` inside an id: ``a~b`` and ``a/b``
    would derive the same session.
    """
    if isinstance(panel_path, str) and 0 < len(panel_path) <= 200:
        segments = panel_path.split("/")
        if all(_SEGMENT_RE.fullmatch(s) and s not in (".", "..") for s in segments):
            return panel_path
    raise PanelPathInvalid(
        "panel_path must be at most 200 characters: segments of [A-Za-z0-9._-] joined by "
        f"'/', without '.', '..', '~' or a leading '/': {panel_path!r}"
    )


def _child_name(name: str) -> str:
    if isinstance(name, str) and _SEGMENT_RE.fullmatch(name) and name not in (".", ".."):
        return name
    raise SessionIdInvalid(f"a child name must match [A-Za-z0-9._-]{{1,200}}: {name!r}")


def derive_auto(mode: Mode, panel_path: str) -> SessionId:
    """The resumable session of a panel: ``panels/editor`` → ``{mode}_auto_panels~editor``."""
    return build_session_id(mode, "auto", validate_panel_path(panel_path).replace("/", "~"))


def derive_child(mode: Mode, parent: SessionId, name: str | None = None) -> SessionId:
    """A child panel's session: ``{mode}_auto_<parent identifier>~<name or a nonce>``.

    A named child is deterministic (resumable); without a name a random nonce
    takes its place, so every call gives a new session.
    """
    leaf = _child_name(name) if name is not None else random_identifier()
    return build_session_id(mode, "auto", f"{parent.identifier}~{leaf}")


def new_named(mode: Mode) -> SessionId:
    """A fresh isolated session: ``{mode}_named_<random>``, unique every call."""
    return build_session_id(mode, "named", random_identifier())

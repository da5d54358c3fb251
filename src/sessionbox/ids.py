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

import uuid_utils

from sessionbox.errors import AgentIdInvalid, SessionIdInvalid

Mode = Literal["safe", "unsafe"]
SessionType = Literal["auto", "named", "uuid"]
MODES: tuple[Mode, ...] = ("safe", "unsafe")

_AGENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PARTITION_RE = re.compile(r"(safe|unsafe)_(auto|named)_([A-Za-z0-9._~-]{1,200})")
_IDENTIFIER_RE = re.compile(r"[A-Za-z0-9._~-]{1,200}")
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


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
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


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
    if not _IDENTIFIER_RE.fullmatch(identifier):
        raise SessionIdInvalid(f"identifier must match [A-Za-z0-9._~-]{{1,200}}: {identifier!r}")
    return SessionId(mode, type_, identifier)


def new_uuid_session_id() -> SessionId:
    return SessionId("safe", "uuid", str(uuid7()))


def random_identifier() -> str:
    """A short random token for named and unnamed-child sessions."""
    return secrets.token_hex(8)

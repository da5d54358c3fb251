"""Sessions: creation with the id grammar, resolve (NatStack derivation), lookup, paging."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sessionbox.config import Settings
from sessionbox.errors import InvalidInput, ModeMismatch
from sessionbox.ids import (
    MODES,
    Mode,
    SessionId,
    SessionType,
    derive_auto,
    derive_child,
    new_named,
    new_uuid_session_id,
    parse_session_id,
    validate_agent_id,
    validate_panel_path,
)
from sessionbox.services._paging import Page, clamp_limit, decode_cursor, encode_cursor
from sessionbox.store.base import Store
from sessionbox.types import SessionRecord

DEFAULT_PAGE = 100
MAX_TTL_SECONDS = 100 * 366 * 86400


def expiry(ttl_seconds: int | None, now: datetime | None = None) -> datetime | None:
    """When something with this lifetime expires; a century at most (no overflow, no 500)."""
    if ttl_seconds is None:
        return None
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidInput(f"ttl_seconds must be between 1 and {MAX_TTL_SECONDS}")
    return (now or datetime.now(UTC)) + timedelta(seconds=ttl_seconds)


@dataclass(frozen=True, slots=True)
class Resolved:
    """What ``resolve`` answers: the session, whether the same input finds it again, and
    whether this call created it."""

    session: SessionRecord
    resumable: bool
    created: bool


def plan_resolve(
    mode: Mode,
    *,
    panel_path: str | None = None,
    parent_session: str | None = None,
    name: str | None = None,
    session_id: str | None = None,
    new_session: bool = False,
) -> tuple[SessionId, bool]:
    """The session id ``resolve`` derives, and whether it is resumable; no lookup.

    At most one of ``session_id``, ``new_session`` and ``parent_session`` may be
    given; with none of them ``panel_path`` names the session.
    """
    if mode not in MODES:
        raise InvalidInput(f"mode must be 'safe' or 'unsafe': {mode!r}")
    if panel_path is not None:
        validate_panel_path(panel_path)
    options = {
        "session_id": session_id is not None,
        "new_session": bool(new_session),
        "parent_session": parent_session is not None,
    }
    chosen = [option for option, given in options.items() if given]
    if len(chosen) > 1:
        raise InvalidInput(f"give at most one of session_id, new_session, parent_session: {chosen}")
    if name is not None and parent_session is None:
        raise InvalidInput("name names a child: it needs parent_session")
    if session_id is not None:
        sid = parse_session_id(session_id)
        if sid.mode != mode:
            raise ModeMismatch(f"session {session_id!r} is {sid.mode}, the caller is {mode}")
        return sid, True
    if new_session:
        return new_named(mode), False
    if parent_session is not None:
        return derive_child(mode, parse_session_id(parent_session), name), name is not None
    if panel_path is None:
        raise InvalidInput(
            "panel_path is required unless session_id, new_session or parent_session is given"
        )
    return derive_auto(mode, panel_path), True


class SessionService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def create(
        self,
        agent_id: str,
        session_id: str | None = None,
        *,
        mode: Mode | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionRecord:
        validate_agent_id(agent_id)
        sid = parse_session_id(session_id) if session_id is not None else None
        if sid is None:
            sid = new_uuid_session_id()
            if mode == "unsafe":
                raise InvalidInput("a UUID session is always safe; give an unsafe_* id instead")
        elif mode is not None and mode != sid.mode:
            raise InvalidInput(f"mode {mode!r} does not match the id's mode {sid.mode!r}")
        expires = expiry(ttl_seconds)
        return self.store.create_session(agent_id, str(sid), sid.mode, sid.type, expires)

    def open(
        self, agent_id: str, sid: SessionId, *, create: bool = True
    ) -> tuple[SessionRecord, bool]:
        """Get-or-create ``sid`` (the second half of resolve); returns (record, created)."""
        validate_agent_id(agent_id)
        return self.store.open_session(agent_id, str(sid), sid.mode, sid.type, create=create)

    def resolve(
        self,
        agent_id: str,
        mode: Mode,
        *,
        panel_path: str | None = None,
        parent_session: str | None = None,
        name: str | None = None,
        session_id: str | None = None,
        new_session: bool = False,
    ) -> Resolved:
        """NatStack's derivation, idempotent: the same input finds the same session."""
        validate_agent_id(agent_id)
        sid, resumable = plan_resolve(
            mode,
            panel_path=panel_path,
            parent_session=parent_session,
            name=name,
            session_id=session_id,
            new_session=new_session,
        )
        record, created = self.open(agent_id, sid)
        return Resolved(record, resumable, created)

    def get(self, agent_id: str, session_id: str) -> SessionRecord:
        validate_agent_id(agent_id)
        return self.store.get_session(agent_id, str(parse_session_id(session_id)))

    def list(
        self,
        agent_id: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        mode: Mode | None = None,
        type_: SessionType | None = None,
    ) -> Page[SessionRecord]:
        validate_agent_id(agent_id)
        size = clamp_limit(limit, DEFAULT_PAGE, 1000)
        items = self.store.list_sessions(
            agent_id, limit=size, after=decode_cursor(cursor), mode=mode, type_=type_
        )
        return Page(items, encode_cursor(items[-1].id) if len(items) == size else None)

    def delete(self, agent_id: str, session_id: str) -> None:
        validate_agent_id(agent_id)
        self.store.delete_session(agent_id, str(parse_session_id(session_id)))

    def list_agents(self, *, limit: int | None = None, cursor: str | None = None) -> Page[str]:
        size = clamp_limit(limit, DEFAULT_PAGE, 1000)
        items = self.store.list_agents(limit=size, after=decode_cursor(cursor))
        return Page(items, encode_cursor(items[-1]) if len(items) == size else None)

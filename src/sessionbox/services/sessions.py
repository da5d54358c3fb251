"""Sessions: creation with the id grammar, lookup, paging and deletion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sessionbox.config import Settings
from sessionbox.errors import InvalidInput
from sessionbox.ids import (
    Mode,
    SessionType,
    new_uuid_session_id,
    parse_session_id,
    validate_agent_id,
)
from sessionbox.services._paging import Page, clamp_limit, decode_cursor, encode_cursor
from sessionbox.store.base import SessionRecord, Store

DEFAULT_PAGE = 100


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
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise InvalidInput("ttl_seconds must be positive")
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds) if ttl_seconds else None
        return self.store.create_session(agent_id, str(sid), sid.mode, sid.type, expires)

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

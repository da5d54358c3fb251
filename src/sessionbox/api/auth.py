"""Who is calling, and what they may touch.

The admin token (``SESSIONBOX_ADMIN_TOKEN``) may do everything. Scoped tokens
(``POST /v1/tokens``) see one agent, in one mode (a safe token never touches an
``unsafe_*`` session), optionally only one session, optionally read-only. With
no admin token configured the server is open (every caller is admin, any
Authorization header is ignored) and ``serve`` refuses to bind beyond loopback.

Every ``/v1`` route depends on ``principal`` and then asks it ``check_session``
(or ``check_agent`` for agent-wide data such as applets) before touching
anything, so the rules live here and nowhere else. The checks look only at the
ids, never at the database, so an answer never says whether a session exists:
another agent's session is 404 like a missing one, an unsafe id is 403
``mode_mismatch`` for a safe token whether or not it exists.
"""

from __future__ import annotations

import functools
import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from sessionbox.errors import (
    AgentNotFound,
    Forbidden,
    ModeMismatch,
    ReadOnlyToken,
    SessionNotFound,
    Unauthorized,
)
from sessionbox.ids import Mode, SessionId, parse_session_id, validate_agent_id
from sessionbox.services.tokens import TokenService
from sessionbox.types import TokenRecord


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the admin, or the scope of one token."""

    admin: bool
    agent_id: str | None = None
    mode: Mode = "unsafe"
    session_id: str | None = None
    read_only: bool = False

    @classmethod
    def from_token(cls, token: TokenRecord) -> Principal:
        return cls(False, token.agent_id, token.mode, token.session_id, token.read_only)

    @property
    def sees_scope_dirs(self) -> bool:
        """Host paths of unsafe sessions are shown to the admin and unsafe tokens only."""
        return self.admin or self.mode == "unsafe"

    def check_admin(self) -> None:
        if not self.admin:
            raise Forbidden("only the admin token may do this")

    def check_agent(self, agent_id: str, *, write: bool = False) -> None:
        """Raise unless this caller may act on ``agent_id``'s agent-wide data (applets).

        Session-bound tokens pass: the panels of their session use the agent's applets.
        """
        validate_agent_id(agent_id)
        if self.admin:
            return
        if agent_id != self.agent_id:
            raise AgentNotFound(f"no agent {agent_id!r}")
        if write and self.read_only:
            raise ReadOnlyToken("this token is read-only")

    def check_session(self, agent_id: str, session_id: str, *, write: bool = False) -> None:
        """Raise unless this caller may act on that session (existing or to be created)."""
        sid = session_of(agent_id, session_id)
        if self.admin:
            return
        if agent_id != self.agent_id:
            raise SessionNotFound(f"no session {session_id!r} for agent {agent_id!r}")
        if sid.mode == "unsafe" and self.mode == "safe":
            raise ModeMismatch("a safe token cannot use an unsafe session")
        if self.session_id is not None and str(sid) != self.session_id:
            raise SessionNotFound(f"no session {session_id!r} for agent {agent_id!r}")
        if write and self.read_only:
            raise ReadOnlyToken("this token is read-only")

    def check_list_sessions(self, agent_id: str, mode: Mode | None) -> Mode | None:
        """Raise unless this caller may list the agent's sessions; returns the mode filter.

        A safe token lists safe sessions only; a session-bound token lists nothing.
        """
        validate_agent_id(agent_id)
        if self.admin:
            return mode
        if agent_id != self.agent_id:
            raise AgentNotFound(f"no agent {agent_id!r}")
        if self.session_id is not None:
            raise Forbidden("a session-bound token cannot list sessions")
        if self.mode == "safe":
            if mode == "unsafe":
                raise ModeMismatch("a safe token cannot list unsafe sessions")
            return "safe"
        return mode

    def check_new_session(self, agent_id: str) -> None:
        """Raise unless this caller may create a session whose id the server picks."""
        self.check_agent(agent_id, write=True)
        if not self.admin and self.session_id is not None:
            raise Forbidden("a session-bound token cannot create other sessions")


@functools.lru_cache(maxsize=4096)
def session_of(agent_id: str, session_id: str) -> SessionId:
    """Both ids validated, the session id parsed: once per pair (ids never change, and a
    refused pair raises, which is never cached). Every request asks it."""
    validate_agent_id(agent_id)
    return parse_session_id(session_id)


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


async def principal(request: Request) -> Principal:
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token is None:
        return Principal(admin=True)
    token = bearer(request)
    if token is None:
        raise Unauthorized("this server needs 'Authorization: Bearer <token>'")
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(admin=True)
    tokens: TokenService = request.app.state.tokens
    return Principal.from_token(await run_in_threadpool(tokens.authenticate, token))

"""Who is calling, and what they may touch.

The admin token (``SESSIONBOX_ADMIN_TOKEN``) may do everything. With no admin
token configured the server is open, and ``serve`` refuses to bind beyond
loopback. Every ``/v1`` route depends on ``principal`` and then asks it
``check_session`` before touching a session, so the rule lives in one place.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request

from sessionbox.errors import Unauthorized


@dataclass(frozen=True, slots=True)
class Principal:
    admin: bool

    def check_agent(self, agent_id: str, *, write: bool = False) -> None:
        """Raise unless this caller may act on ``agent_id``."""

    def check_session(self, agent_id: str, session_id: str, *, write: bool = False) -> None:
        """Raise unless this caller may act on that session."""


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def principal(request: Request) -> Principal:
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token is None:
        return Principal(admin=True)
    token = bearer(request)
    if token is None:
        raise Unauthorized("this server needs 'Authorization: Bearer <token>'")
    if hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(admin=True)
    raise Unauthorized("the token is not valid")

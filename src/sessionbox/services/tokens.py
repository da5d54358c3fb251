"""API tokens: issue, authenticate, list and revoke.

A token is ``sbx_`` + 256 random bits (base64url). Only its SHA-256 is stored:
with that much entropy a slow password hash adds nothing against guessing and
would cost every request milliseconds. Lookup is by hash (an index probe that
says nothing about the secret), then the hashes are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sessionbox.errors import InvalidInput, ModeMismatch, Unauthorized
from sessionbox.ids import MODES, Mode, parse_session_id, uuid7, validate_agent_id
from sessionbox.services._paging import Page, clamp_limit, decode_cursor, encode_cursor
from sessionbox.services.sessions import expiry
from sessionbox.store.base import Store
from sessionbox.types import TokenRecord

PREFIX = "sbx_"
_TOKEN_RE = re.compile(r"sbx_[A-Za-z0-9_-]{43}")
DEFAULT_PAGE = 100


def secret_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: the secret is only ever available here, once."""

    token: str
    record: TokenRecord


class TokenService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        agent_id: str,
        mode: Mode,
        *,
        session_id: str | None = None,
        read_only: bool = False,
        ttl_seconds: int | None = None,
    ) -> IssuedToken:
        validate_agent_id(agent_id)
        if mode not in MODES:
            raise InvalidInput(f"mode must be 'safe' or 'unsafe': {mode!r}")
        if session_id is not None:
            sid = parse_session_id(session_id)
            if sid.mode == "unsafe" and mode == "safe":
                raise ModeMismatch("a safe token cannot be bound to an unsafe session")
            session_id = str(sid)
        now = datetime.now(UTC)
        expires_at = expiry(ttl_seconds, now)
        record = TokenRecord(
            id=str(uuid7()),
            agent_id=agent_id,
            mode=mode,
            session_id=session_id,
            read_only=read_only,
            created_at=now,
            expires_at=expires_at,
        )
        token = PREFIX + secrets.token_urlsafe(32)
        self.store.create_token(record, secret_hash(token))
        return IssuedToken(token, record)

    def authenticate(self, token: str) -> TokenRecord:
        """The live token for a presented secret; ``Unauthorized`` for anything else."""
        if not _TOKEN_RE.fullmatch(token):
            raise Unauthorized("the token is not valid")
        digest = secret_hash(token)
        found = self.store.find_token(digest)
        if found is None or not hmac.compare_digest(digest, found[1]):
            raise Unauthorized("the token is not valid")
        record = found[0]
        if record.revoked_at is not None:
            raise Unauthorized("the token was revoked")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise Unauthorized("the token has expired")
        return record

    def list(
        self, *, agent_id: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> Page[TokenRecord]:
        if agent_id is not None:
            validate_agent_id(agent_id)
        size = clamp_limit(limit, DEFAULT_PAGE, 1000)
        items = self.store.list_tokens(limit=size, after=decode_cursor(cursor), agent_id=agent_id)
        return Page(items, encode_cursor(items[-1].id) if len(items) == size else None)

    def revoke(self, token_id: str) -> TokenRecord:
        return self.store.revoke_token(token_id)

"""Catalog pieces of issue 4 on every store: open_session (resolve) and tokens."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta

import pytest

from sessionbox.errors import SessionNotFound, TokenNotFound
from sessionbox.store.base import Store
from sessionbox.types import TokenRecord


def test_open_session_creates_once_and_then_touches(store: Store, agent: str) -> None:
    record, created = store.open_session(agent, "safe_auto_p~x", "safe", "auto", create=True)
    assert created and record.id == "safe_auto_p~x" and record.type == "auto"
    again, created_again = store.open_session(agent, "safe_auto_p~x", "safe", "auto", create=True)
    assert not created_again and again.created_at == record.created_at
    assert again.last_active_at >= record.last_active_at
    with pytest.raises(SessionNotFound):
        store.open_session(agent, "safe_auto_p~y", "safe", "auto", create=False)
    found, made = store.open_session(agent, "safe_auto_p~x", "safe", "auto", create=False)
    assert found.id == record.id and not made


def test_open_session_races_create_exactly_one(store: Store, agent: str) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def resolve() -> None:
        _, created = store.open_session(agent, "safe_auto_race", "safe", "auto", create=True)
        with lock:
            results.append(created)

    threads = [threading.Thread(target=resolve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]


def test_open_session_reclaims_an_expired_id(store: Store, agent: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    store.create_session(agent, "safe_named_old", "safe", "named", expires_at=past)
    record, created = store.open_session(agent, "safe_named_old", "safe", "named", create=True)
    assert created and record.expires_at is None


def _token(agent: str, **extra: object) -> TokenRecord:
    values: dict[str, object] = {
        "id": f"t-{secrets.token_hex(8)}",
        "agent_id": agent,
        "mode": "safe",
        "session_id": None,
        "read_only": False,
        "created_at": datetime.now(UTC),
        **extra,
    }
    return TokenRecord(**values)  # type: ignore[arg-type]


def test_tokens_round_trip_and_revoke(store: Store, agent: str) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = _token(
        agent, mode="unsafe", session_id="unsafe_named_s", read_only=True, expires_at=expires
    )
    digest = secrets.token_hex(32)
    store.create_token(token, digest)
    found = store.find_token(digest)
    assert found is not None
    record, stored = found
    assert stored == digest
    assert (record.id, record.agent_id, record.mode, record.session_id, record.read_only) == (
        token.id,
        agent,
        "unsafe",
        "unsafe_named_s",
        True,
    )
    assert abs((record.expires_at or expires) - expires) < timedelta(milliseconds=1)
    assert record.revoked_at is None
    assert store.find_token(secrets.token_hex(32)) is None
    revoked = store.revoke_token(token.id)
    assert revoked.revoked_at is not None
    assert store.revoke_token(token.id).revoked_at == revoked.revoked_at  # idempotent
    again = store.find_token(digest)
    assert again is not None and again[0].revoked_at is not None
    with pytest.raises(TokenNotFound):
        store.revoke_token("t-nothing")


def test_list_tokens_pages_and_filters(store: Store, agent: str) -> None:
    ids = []
    for i in range(5):
        token = _token(agent if i < 4 else f"{agent}-b", id=f"{agent}-{i}")
        store.create_token(token, secrets.token_hex(32))
        ids.append(token.id)
    mine = store.list_tokens(limit=100, agent_id=agent)
    assert [t.id for t in mine] == ids[:4]
    first = store.list_tokens(limit=2, agent_id=agent)
    rest = store.list_tokens(limit=100, after=first[-1].id, agent_id=agent)
    assert [t.id for t in first + rest] == ids[:4]

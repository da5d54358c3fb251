"""What the reliability suites share: store URLs for a server process, and the invariant check.

A new store plugs in with one line in ``STORE_URLS``; the suites then run on it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sessionbox.config import Settings
from sessionbox.store import open_store
from sessionbox.store.base import SelfChecking

STORE_URLS: dict[str, Callable[[pytest.FixtureRequest, Path], str]] = {
    "sqlite": lambda request, tmp: f"sqlite:///{tmp / 'sessionbox.db'}",
    "postgres": lambda request, tmp: str(request.getfixturevalue("postgres_url")),
    "dir": lambda request, tmp: f"dir:///{tmp / 'dirstore'}",
}


def env_int(name: str, default: int) -> int:
    """A size that the long variants raise through the environment."""
    return int(os.environ.get(name, default))


@pytest.fixture(params=sorted(STORE_URLS))
def server_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for a ``sessionbox serve`` child process, one per store kind."""
    return STORE_URLS[request.param](request, tmp_path)


def assert_invariants(url: str, data_dir: Path, agent_id: str | None = None) -> None:
    """Open the store afresh (as a restarted server would) and audit it."""
    store = open_store(url, Settings(data_dir=data_dir, store=url))
    try:
        assert isinstance(store, SelfChecking), f"{type(store).__name__} has no check_invariants"
        problems = store.check_invariants(agent_id)
    finally:
        store.close()
    assert problems == [], "\n".join(problems)


def new_session(client: httpx.Client) -> str:
    """A fresh agent and session; returns the session's fs base URL."""
    agent = f"rel-{secrets.token_hex(4)}"
    created = client.post(f"/v1/agents/{agent}/sessions", json={})
    assert created.status_code == 201, created.text
    return f"/v1/agents/{agent}/sessions/{created.json()['id']}/fs"


def is_clean_503(response: httpx.Response) -> bool:
    """The answer a request caught by a fault must get: 503 problem+json, ``Retry-After``."""
    return (
        response.status_code == 503
        and response.headers.get("content-type") == "application/problem+json"
        and response.headers.get("retry-after") is not None
        and response.json().get("code") == "unavailable"
    )

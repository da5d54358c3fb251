"""One SDK suite, two transports: the in-process library and the HTTP client.

``sdk`` is parametrized over (transport, store), so each behaviour is written
once and checked four ways; the HTTP half talks to a real uvicorn on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import sessionbox
from sessionbox.store import open_store
from sessionbox.store.base import Store
from tests.conftest import LiveServer, small_limits

KINDS = [
    ("local", "sqlite"),
    ("local", "postgres"),
    ("http", "sqlite"),
    ("http", "postgres"),
]


@pytest.fixture(params=KINDS, ids=["-".join(k) for k in KINDS])
def sdk(
    request: pytest.FixtureRequest, tmp_path: Path, server_for: Callable[[str], LiveServer]
) -> Iterator[Any]:
    """A ``sessionbox.Sessionbox`` or a ``sessionbox.Client``: the same API."""
    transport, kind = request.param
    if transport == "http":
        with sessionbox.Client(server_for(kind).url, retries=1, backoff=0.01) as client:
            yield client
        return
    if kind == "postgres":
        store: Store = request.getfixturevalue("_pg_store")
        yield sessionbox.Sessionbox(store, small_limits(tmp_path, store=store.url))
        return
    settings = small_limits(tmp_path)
    with sessionbox.Sessionbox(open_store(settings.store_url, settings), settings) as box:
        yield box


@pytest.fixture
def fs(sdk: Any, agent: str) -> Any:
    """The files of a fresh session."""
    record = sdk.create_session(agent)
    return sdk.session(agent, record.id).files

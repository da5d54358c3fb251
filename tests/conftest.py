"""Fixtures shared by every layer: stores on SQLite and PostgreSQL, a real server."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

import sessionbox
from sessionbox.api.app import create_app
from sessionbox.config import Settings
from sessionbox.store import open_store
from sessionbox.store.base import Store
from sessionbox.types import VolumeKey
from tests import _postgres

STORES = ["sqlite", "postgres", "directory"]
MiB = 1024 * 1024


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = _postgres.admin_url()
    url = _postgres.create_database(admin)
    yield url
    _postgres.drop_database(admin, url)


def small_limits(data_dir: Path, **extra: object) -> Settings:
    """Limits small enough that tests can reach them quickly."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "max_file_bytes": 3 * MiB,
        "session_quota_bytes": 8 * MiB,
        "max_entries_per_session": 300,
        "json_read_limit_bytes": 2 * MiB,
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def _pg_store(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    settings = small_limits(tmp_path_factory.mktemp("pg"), store=postgres_url)
    store = open_store(postgres_url, settings)
    yield store
    store.close()


@pytest.fixture(params=STORES)
def settings_and_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Settings, Store]]:
    if request.param == "postgres":
        store: Store = request.getfixturevalue("_pg_store")
        yield small_limits(tmp_path, store=store.url), store
        return
    extra = {"store": f"dir:///{tmp_path / 'dirstore'}"} if request.param == "directory" else {}
    settings = small_limits(tmp_path, **extra)
    store = open_store(settings.store_url, settings)
    yield settings, store
    store.close()


@pytest.fixture
def store(settings_and_store: tuple[Settings, Store]) -> Store:
    return settings_and_store[1]


@pytest.fixture
def agent() -> str:
    """A fresh agent per test keeps tests apart on a shared database."""
    return f"agent-{secrets.token_hex(6)}"


@pytest.fixture
def session_id(store: Store, agent: str) -> str:
    record = store.create_session(agent, f"safe_named_{secrets.token_hex(6)}", "safe", "named")
    return record.id


@pytest.fixture
def volume(agent: str, session_id: str) -> VolumeKey:
    return VolumeKey(agent, session_id, "files")


@pytest.fixture
def box(settings_and_store: tuple[Settings, Store]) -> sessionbox.Sessionbox:
    settings, store = settings_and_store
    return sessionbox.Sessionbox(store, settings)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_TLS = httpx.create_ssl_context()


def http_client(base_url: str, **kwargs: Any) -> httpx.Client:
    """A client of a test server. They all share one TLS context: httpx otherwise loads
    the CA bundle for each client (~37 ms here), which cost the suite minutes over its
    thousands of clients although no test speaks TLS."""
    return httpx.Client(base_url=base_url, verify=_TLS, **kwargs)


class LiveServer:
    """uvicorn serving the real app on a loopback port, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.port = _free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session", params=STORES)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp(f"server-{request.param}")
    extra = {}
    if request.param == "postgres":
        extra["store"] = request.getfixturevalue("postgres_url")
    if request.param == "directory":
        extra["store"] = f"dir:///{data_dir / 'dirstore'}"
    server = LiveServer(small_limits(data_dir, **extra)).start()
    yield server
    server.stop()


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with http_client(live_server.url, timeout=30) as client:
        yield client


@pytest.fixture
def session_url(http: httpx.Client, agent: str) -> str:
    """The fs base URL of a fresh session on the live server."""
    response = http.post(f"/v1/agents/{agent}/sessions", json={})
    assert response.status_code == 201, response.text
    return f"/v1/agents/{agent}/sessions/{response.json()['id']}/fs"


@pytest.fixture(scope="session")
def server_for(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], LiveServer]]:
    """One live server per store, started on first use and stopped at the end."""
    started: dict[str, LiveServer] = {}

    def get(kind: str) -> LiveServer:
        if kind not in started:
            extra = {}
            if kind == "postgres":
                extra["store"] = postgres_url
            settings = small_limits(tmp_path_factory.mktemp(f"sdk-{kind}"), **extra)
            started[kind] = LiveServer(settings).start()
        return started[kind]

    yield get
    for server in started.values():
        server.stop()

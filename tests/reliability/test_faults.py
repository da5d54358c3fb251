"""Faults under load: the database's connections killed, the database away, the disk full.

Requests caught by a fault fail cleanly (503 problem+json with ``Retry-After``,
or 507), never 500; nothing acknowledged is lost; the server recovers without a
restart; ``/healthz`` says 503 while the database is away.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest

from sessionbox.errors import Unavailable
from sessionbox.store import open_store
from sessionbox.types import VolumeKey
from tests.conftest import LiveServer, http_client, small_limits
from tests.reliability._proxy import Proxy
from tests.reliability.conftest import is_clean_503, new_session

OCTET = {"content-type": "application/octet-stream"}


@dataclass
class Load:
    """Threads each overwriting their own counter file, and reading it back."""

    url: str
    base: str
    threads: int = 8
    answers: dict[int, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    tried: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        self.acked = [0] * self.threads
        self.tried = [0] * self.threads
        for n in range(self.threads):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(120)

    def _record(self, response: httpx.Response, *, may_be_missing: bool = False) -> bool:
        with self._lock:
            self.answers[response.status_code] = self.answers.get(response.status_code, 0) + 1
        if response.is_success or (may_be_missing and response.status_code == 404):
            return response.is_success
        if not is_clean_503(response):
            self.bad.append(f"{response.status_code} {response.headers} {response.text[:300]}")
        return False

    def _run(self, n: int) -> None:
        path = f"{self.base}/load/t{n}"
        with http_client(self.url, timeout=120) as client:
            while not self._stop.is_set():
                self.tried[n] += 1
                if self._record(
                    client.put(path, content=str(self.tried[n]).encode(), headers=OCTET)
                ):
                    self.acked[n] = self.tried[n]
                read = client.get(path, params={"raw": "1"})
                self._record(read, may_be_missing=self.acked[n] == 0)

    def check_nothing_lost(self, client: httpx.Client) -> None:
        """Each file holds its last acknowledged write or a later attempted one."""
        for n in range(self.threads):
            if self.acked[n] == 0:
                continue
            value = int(client.get(f"{self.base}/load/t{n}", params={"raw": "1"}).content)
            assert self.acked[n] <= value <= self.tried[n], (n, self.acked[n], value)


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join([parts.query] * bool(parts.query) + [f"{k}={v}" for k, v in params.items()])
    return urlunsplit(parts._replace(query=query))


@pytest.fixture
def pg_server(postgres_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    """A server whose PostgreSQL connections carry a name only this test uses."""
    name = f"sbfault_{secrets.token_hex(4)}"
    url = with_query(postgres_url, application_name=name)
    server = LiveServer(small_limits(tmp_path, store=url)).start()
    yield server, name
    server.stop()


def test_killed_postgres_connections_fail_cleanly_and_the_pool_recovers(
    pg_server: tuple[LiveServer, str], postgres_url: str
) -> None:
    server, name = pg_server
    client = http_client(server.url, timeout=120)
    load = Load(server.url, new_session(client)).start()
    killed = 0
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        for _ in range(40):
            rows = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchall()
            killed += len(rows)
            time.sleep(0.05)
    time.sleep(0.5)
    load.stop()
    assert killed > 0, "no connection was killed: the test tested nothing"
    assert load.bad == [], load.bad[:5]
    assert sum(load.acked) > 0
    after = [client.put(f"{load.base}/after{i}", content=b"x", headers=OCTET) for i in range(20)]
    assert [r.status_code for r in after] == [201] * 20, "the pool did not recover"
    load.check_nothing_lost(client)
    print(f"\nterminated backends={killed} answers={load.answers}")
    client.close()


def test_database_away_gives_503_and_degraded_health_then_recovers(
    postgres_url: str, tmp_path: Path
) -> None:
    parts = urlsplit(postgres_url)
    assert parts.hostname and parts.port, "the proxy needs PostgreSQL on TCP"
    proxy = Proxy((parts.hostname, parts.port)).up()
    url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    server = LiveServer(small_limits(tmp_path, store=url, pg_pool_max=4)).start()
    client = http_client(server.url, timeout=120)
    try:
        load = Load(server.url, new_session(client), threads=4).start()
        time.sleep(0.5)
        proxy.down()
        health = client.get("/healthz")
        assert health.status_code == 503, health.text
        assert health.headers["retry-after"]
        assert health.json()["code"] == "unavailable"
        time.sleep(1.5)
        proxy.up()
        for _ in range(300):
            if client.get("/healthz").status_code == 200:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("/healthz never came back after the database did")
        time.sleep(0.5)
        load.stop()
        assert load.bad == [], load.bad[:5]
        after = [
            client.put(f"{load.base}/after{i}", content=b"x", headers=OCTET) for i in range(20)
        ]
        assert [r.status_code for r in after] == [201] * 20, "the pool did not recover"
        load.check_nothing_lost(client)
        print(f"\ndatabase away: answers={load.answers}")
    finally:
        client.close()
        server.stop()
        proxy.down()


def test_a_write_on_a_pooled_connection_the_database_dropped_succeeds(
    pg_server: tuple[LiveServer, str], postgres_url: str
) -> None:
    """Regression: a write that found its pooled connection dead was a 503, though nothing ran."""
    server, name = pg_server
    with http_client(server.url, timeout=60) as client:
        base = new_session(client)
        for i in range(5):
            with psycopg.connect(postgres_url, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = %s",
                    (name,),
                )
                for _ in range(100):  # termination is asynchronous
                    left = admin.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                        (name,),
                    ).fetchone()
                    if left == (0,):
                        break
                    time.sleep(0.02)
            answer = client.put(f"{base}/f{i}", content=b"x", headers=OCTET)
            assert answer.status_code == 201, answer.text


def test_a_conflict_that_outlasts_the_retries_is_503_not_500(
    postgres_url: str, tmp_path: Path
) -> None:
    """Regression: a deadlock still there after every retry escaped as a 500."""
    store = open_store(postgres_url, small_limits(tmp_path, store=postgres_url))
    agent = f"busy-{secrets.token_hex(4)}"
    store.create_session(agent, "safe_named_busy", "safe", "named")
    attempts = []

    def always_conflicts(vol: object) -> None:
        attempts.append(1)
        raise psycopg.errors.DeadlockDetected("deadlock detected (injected)")

    try:
        with pytest.raises(Unavailable):
            store.update(VolumeKey(agent, "safe_named_busy", "files"), always_conflicts)
    finally:
        store.close()
    assert len(attempts) > 1, "the conflict was not retried"

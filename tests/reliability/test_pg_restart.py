"""A real PostgreSQL restart, and its backends killed, under load on ``sessionbox serve``.

The server runs on a PostgreSQL of the test's own (``_private_postgres``), so it
can be stopped (fast shutdown: every backend told to exit, open transactions
rolled back) and started again while writer threads run. Every answer must be a
2xx or a clean 503 problem+json with ``Retry-After`` (never a 500), and none may
take longer than the store's retry budget plus one pool wait; ``/healthz`` says
503 while the database is down and 200 once it is back; the same server process
serves again afterwards; every acknowledged write is there with exactly its bytes,
every write in doubt is whole or absent. ``SESSIONBOX_PG_RESTARTS`` sets the
number of restarts (default 1).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from sessionbox.store.postgres import POOL_WAIT_SECONDS, RETRY_SECONDS
from tests.conftest import http_client
from tests.reliability._private_postgres import PrivatePostgres
from tests.reliability._server import ServerProcess
from tests.reliability.conftest import assert_invariants, env_int, is_clean_503, new_session

RESTARTS = env_int("SESSIONBOX_PG_RESTARTS", 1)
THREADS = 6
# Down longer than the retry budget, so requests that wait it out answer 503.
DOWN_SECONDS = env_int("SESSIONBOX_PG_DOWN_SECONDS", RETRY_SECONDS + 2)
# No answer may take longer: the retry budget, one last wait for a pooled connection,
# and slack for a loaded machine. A liveness bound, not a speed figure.
HANG_BOUND = RETRY_SECONDS + POOL_WAIT_SECONDS + 15
APP_NAME = "sb_restart"
OCTET = {"content-type": "application/octet-stream"}


@dataclass
class Load:
    """Threads that create files, overwrite one file each, and read back what was acked."""

    url: str
    base: str
    acked: dict[str, bytes] = field(default_factory=dict)
    in_doubt: dict[str, bytes] = field(default_factory=dict)
    overwrites: list[list[tuple[bytes, bool]]] = field(default_factory=list)
    answers: dict[int, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    slowest: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Load:
        self.overwrites = [[] for _ in range(THREADS)]
        for n in range(THREADS):
            worker = threading.Thread(target=self._run, args=(n,), daemon=True)
            worker.start()
            self._workers.append(worker)
        return self

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(HANG_BOUND * 2)
        assert not any(w.is_alive() for w in self._workers), "a client thread hung"

    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_for_progress(self, what: str) -> None:
        """Until more writes than threads are acknowledged from now on: the pool serves."""
        start = self.acked_count()
        _wait_for(lambda: self.acked_count() > start + THREADS, what)

    def _send(self, client: httpx.Client, method: str, path: str, **kw: object) -> httpx.Response:
        began = time.monotonic()
        response = client.request(method, path, **kw)  # type: ignore[arg-type]
        elapsed = time.monotonic() - began
        with self._lock:
            self.slowest = max(self.slowest, elapsed)
            self.answers[response.status_code] = self.answers.get(response.status_code, 0) + 1
        if not response.is_success and not is_clean_503(response):
            self.bad.append(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response

    def _run(self, n: int) -> None:
        rng = random.Random(n)
        mine: list[str] = []
        counter = f"{self.base}/t{n}/counter"
        with http_client(self.url, timeout=HANG_BOUND * 2) as client:
            for i in itertools.count():
                if self._stop.is_set():
                    return
                path = f"{self.base}/t{n}/f{i}"
                content = f"{n}:{i}:".encode() + rng.randbytes(rng.randint(0, 4096))
                put = self._send(client, "PUT", path, content=content, headers=OCTET)
                with self._lock:
                    (self.acked if put.is_success else self.in_doubt)[path] = content
                if put.is_success:
                    mine.append(path)
                value = f"{n}:{i}".encode()
                over = self._send(client, "PUT", counter, content=value, headers=OCTET)
                self.overwrites[n].append((value, over.is_success))
                if mine:
                    self._check_read(client, rng.choice(mine))

    def _check_read(self, client: httpx.Client, path: str) -> None:
        read = self._send(client, "GET", path, params={"raw": "1"})
        if read.is_success and read.content != self.acked[path]:
            self.bad.append(f"GET {path}: {len(read.content)} bytes, not the acked ones")

    def check_nothing_lost(self, client: httpx.Client) -> int:
        """Acked files hold their bytes; in-doubt ones are whole or absent.

        Returns how many in-doubt writes turned out to have been committed.
        """
        committed = 0
        for path, content in self.acked.items():
            read = client.get(path, params={"raw": "1"})
            assert read.status_code == 200, (path, read.status_code, read.text[:200])
            assert read.content == content, f"{path}: content differs from the acked write"
        for path, content in self.in_doubt.items():
            read = client.get(path, params={"raw": "1"})
            assert read.status_code in (200, 404), (path, read.status_code)
            assert read.status_code == 404 or read.content == content, f"{path} is torn"
            committed += read.status_code == 200
        for n, attempts in enumerate(self.overwrites):
            last_acked = max((i for i, (_, ok) in enumerate(attempts) if ok), default=None)
            if last_acked is None:
                continue
            allowed = {value for value, _ in attempts[last_acked:]}
            read = client.get(f"{self.base}/t{n}/counter", params={"raw": "1"})
            assert read.content in allowed, (n, read.content, attempts[last_acked])
        return committed


def _wait_for(condition: Callable[[], bool], what: str, bound: float = HANG_BOUND) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not within {bound} s")
        time.sleep(0.1)


def _terminate_backends(admin_url: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (APP_NAME,),
        ).fetchall()
    return len(rows)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres().init().start()
    yield postgres
    postgres.destroy()


def test_a_real_postgres_restart_under_load_loses_nothing(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    store_url = f"{private_postgres.url}?application_name={APP_NAME}"
    server = ServerProcess(store_url, tmp_path / "data", env={"SESSIONBOX_PG_POOL_MAX": "4"})
    server.start()
    client = http_client(server.url, timeout=HANG_BOUND * 2)
    try:
        load = Load(server.url, new_session(client)).start()
        _wait_for(lambda: load.acked_count() >= THREADS, "first writes")

        # Every backend of the server killed mid-request, a few times over.
        killed = 0
        for _ in range(10):
            killed += _terminate_backends(private_postgres.url)
            time.sleep(0.1)
        assert killed > 0, "no backend was killed: the test tested nothing"
        load.wait_for_progress("writes after the kills")

        recovered: list[float] = []
        for _ in range(RESTARTS):
            private_postgres.stop("fast")
            health = client.get("/healthz")
            assert is_clean_503(health), (health.status_code, health.headers, health.text)
            time.sleep(DOWN_SECONDS)
            private_postgres.start()
            began = time.monotonic()
            _wait_for(lambda: client.get("/healthz").status_code == 200, "/healthz 200 again")
            recovered.append(time.monotonic() - began)
            load.wait_for_progress("writes after the restart")
        load.stop()

        assert server.proc is not None and server.proc.poll() is None, "the server died"
        assert load.bad == [], load.bad[:5]
        assert load.slowest < HANG_BOUND, f"an answer took {load.slowest:.1f} s"
        assert load.answers.get(503, 0) > 0, "no request met the outage: the test tested nothing"
        committed = load.check_nothing_lost(client)
        assert_invariants(private_postgres.url, tmp_path / "data")
        print(
            f"\nrestarts={RESTARTS} down={DOWN_SECONDS}s terminated backends={killed} "
            f"answers={load.answers} acked creates verified={len(load.acked)} "
            f"in doubt={len(load.in_doubt)} (committed {committed}) "
            f"slowest answer={load.slowest:.1f}s /healthz 200 after start="
            + ", ".join(f"{s:.1f}s" for s in recovered)
        )
    finally:
        client.close()
        server.stop()


def _follow(client: httpx.Client, url: str, events: queue.Queue[dict[str, Any]]) -> None:
    """Put each SSE event of ``url`` on ``events`` (``ready`` as ``{"op": "ready"}``)."""
    name = ""
    with contextlib.suppress(httpx.HTTPError), client.stream("GET", url) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                name = line.removeprefix("event:").strip()
            elif line.startswith("data:"):
                data = json.loads(line.removeprefix("data:"))
                events.put({"op": "ready"} if name == "ready" else data)


def _next_op(events: queue.Queue[dict[str, Any]], op: str) -> dict[str, Any]:
    deadline = time.monotonic() + HANG_BOUND
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if event["op"] == op:
            return event
    raise AssertionError(f"no {op!r} event within {HANG_BOUND} s")


def test_a_change_feed_that_lost_its_listener_says_resync(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    """Regression: PostgreSQL's LISTEN connection was re-opened silently, so whatever
    committed while it was away never reached a live feed, and nobody was told to look again.
    """
    store_url = f"{private_postgres.url}?application_name={APP_NAME}"
    server = ServerProcess(store_url, tmp_path / "data").start()
    events: queue.Queue[dict[str, Any]] = queue.Queue()
    try:
        with http_client(server.url, timeout=HANG_BOUND * 2) as client:
            base = new_session(client)
            feed = http_client(server.url, timeout=HANG_BOUND * 2)
            threading.Thread(
                target=_follow, args=(feed, base.removesuffix("/fs") + "/events", events),
                daemon=True,
            ).start()  # fmt: skip
            _next_op(events, "ready")
            assert _terminate_backends(private_postgres.url) > 0
            resync = _next_op(events, "resync")
            assert base.endswith(f"/sessions/{resync['session']}/fs"), resync
            put = client.put(f"{base}/after.txt", content=b"x", headers=OCTET)
            assert put.status_code == 201, put.text
            assert _next_op(events, "write")["path"] == "/after.txt"
            feed.close()
    finally:
        server.stop()

"""Two ``sessionbox serve`` processes on one PostgreSQL, requests spread across them.

A round-robin transport sends each request to the next replica, so every
read-after-write below crosses processes. ``If-Match`` must hold across them,
and concurrent read-modify-write through both loses no update.
``CROSS_REPLICA_CHECKS`` holds more (SSE: a change made through one
replica seen by a subscriber of the other).
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import http_client
from tests.reliability._server import ServerProcess
from tests.reliability.conftest import assert_invariants, new_session

OCTET = {"content-type": "application/octet-stream"}
SSE_DEADLINE = 2.0  # seconds: the requirement of issue 10, not a speed benchmark


def sse_change_crosses_replicas(replicas: list[str]) -> None:
    """A write through replica A reaches an SSE subscriber of replica B within 2 s."""
    received: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    timeout = httpx.Timeout(10, read=60)
    with (
        http_client(replicas[0], timeout=timeout) as a,
        http_client(replicas[1], timeout=timeout) as b,
    ):
        base = new_session(a)
        session = base.removesuffix("/fs")

        def listen() -> None:
            try:
                with b.stream("GET", f"{session}/events") as response:
                    received.put(("status", {"code": response.status_code}))
                    kind = ""
                    for line in response.iter_lines():
                        if line.startswith("event:"):
                            kind = line.removeprefix("event:").strip()
                        elif line.startswith("data:"):
                            received.put((kind, json.loads(line.removeprefix("data:"))))
            except httpx.HTTPError:
                pass  # the client closed under us: the check is over

        threading.Thread(target=listen, daemon=True).start()
        assert received.get(timeout=30) == ("status", {"code": 200})
        assert received.get(timeout=30)[0] == "ready"  # subscribed: set-up, not the deadline
        written = a.put(f"{base}/seen.txt", content=b"through A", headers=OCTET)
        assert written.status_code == 201, written.text
        start = time.monotonic()
        while True:
            left = start + SSE_DEADLINE - time.monotonic()
            try:
                kind, data = received.get(timeout=max(left, 0))
            except queue.Empty:
                raise AssertionError(
                    f"replica B's SSE client saw no change within {SSE_DEADLINE} s"
                ) from None
            if kind == "change" and data.get("path") == "/seen.txt":
                print(f"\nSSE across replicas: {time.monotonic() - start:.3f} s")
                return


CROSS_REPLICA_CHECKS: list[Callable[[list[str]], None]] = [sse_change_crosses_replicas]
"""More cross-replica properties register here."""


class RoundRobin(httpx.BaseTransport):
    """Sends request n to replica n mod k."""

    def __init__(self, urls: list[str]) -> None:
        self._targets = itertools.cycle([httpx.URL(u) for u in urls])
        self._lock = threading.Lock()
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            target = next(self._targets)
        request.url = request.url.copy_with(host=target.host, port=target.port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


@pytest.fixture(scope="module")
def replicas(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    servers = [
        ServerProcess(postgres_url, tmp_path_factory.mktemp(f"replica{i}")) for i in range(2)
    ]
    try:
        for server in servers:
            server.start()
        yield [server.url for server in servers]
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def spread(replicas: list[str]) -> Iterator[httpx.Client]:
    with http_client("http://replicas", transport=RoundRobin(replicas), timeout=60) as client:
        yield client


def test_api_smoke_across_replicas(spread: httpx.Client, replicas: list[str]) -> None:
    for check in CROSS_REPLICA_CHECKS:
        check(replicas)
    base = new_session(spread)
    created = spread.post(f"{base}/src/a.txt", json={"content": "alpha"})
    assert created.status_code == 201, created.text
    assert spread.get(f"{base}/src/a.txt").json()["content"] == "alpha"
    assert spread.post(f"{base}/src/a.txt", json={"content": "x"}).status_code == 409
    assert spread.put(f"{base}/src/b.bin", content=b"0123456789", headers=OCTET).status_code == 201
    ranged = spread.get(f"{base}/src/b.bin", params={"raw": "1"}, headers={"Range": "bytes=2-4"})
    assert (ranged.status_code, ranged.content) == (206, b"234")
    listing = spread.get(f"{base}/src")
    assert [e["name"] for e in listing.json()["data"]] == ["a.txt", "b.bin"]
    moved = spread.post(f"{base}/_/move", json={"from": "/src", "to": "/dst"})
    assert moved.status_code == 200, moved.text
    assert spread.get(f"{base}/src").status_code == 404
    copied = spread.post(f"{base}/_/copy", json={"from": "/dst", "to": "/again"})
    assert copied.status_code == 201, copied.text
    grep = spread.post(f"{base}/_/grep", json={"pattern": "alph"})
    assert sorted(m["path"] for f in grep.json()["data"] for m in f["matches"]) == [
        "/again/a.txt",
        "/dst/a.txt",
    ]
    assert spread.delete(f"{base}/dst", params={"recursive": "true"}).json() == {"deleted": 3}
    assert spread.post(f"{base}/_/stat", json={"path": "/again/b.bin"}).json()["size_bytes"] == 10
    session = base.removesuffix("/fs")
    assert spread.delete(session).status_code in (200, 204)
    assert spread.get(f"{base}/again").status_code == 404


def test_if_match_holds_across_replicas(spread: httpx.Client) -> None:
    base = new_session(spread)
    first = spread.put(f"{base}/f", content=b"1", headers=OCTET)  # replica A
    etag = first.headers["etag"]
    second = spread.put(f"{base}/f", content=b"2", headers={**OCTET, "If-Match": etag})  # B
    assert second.status_code == 200, second.text
    stale = spread.put(f"{base}/f", content=b"3", headers={**OCTET, "If-Match": etag})  # A
    assert stale.status_code == 412, stale.text
    assert spread.get(f"{base}/f", params={"raw": "1"}).content == b"2"


def test_read_modify_write_through_both_replicas_loses_no_update(
    spread: httpx.Client, replicas: list[str], postgres_url: str, tmp_path: Path
) -> None:
    base = new_session(spread)
    url = f"{base}/counter"
    spread.put(url, content=b"0", headers=OCTET)
    wins: list[int] = []

    def writer(i: int) -> None:
        with http_client(replicas[i % 2], timeout=60) as client:
            for _ in range(300):
                current = client.get(url, params={"raw": "1"})
                answer = client.put(
                    url,
                    content=str(int(current.content) + 1).encode(),
                    headers={**OCTET, "If-Match": current.headers["etag"]},
                )
                if answer.status_code == 200:
                    wins.append(i)
                    return
                assert answer.status_code == 412, answer.text
            raise AssertionError("a writer never got its update in")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(writer, range(16)))
    assert int(spread.get(url, params={"raw": "1"}).content) == len(wins) == 16
    assert_invariants(postgres_url, tmp_path, base.split("/")[3])

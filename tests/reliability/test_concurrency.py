"""Concurrent clients against a real server on every store: no lost update, no impossible state.

- 32 writers doing read-modify-write with ``If-Match`` on one counter file: the
  final value equals the number of 2xx answers (every 412 is retried).
- Overlapping moves, copies and recursive deletes fired together end in a state,
  and with per-request outcomes, that some serial order of the same requests gives.
- Lock contention (an outside SQLite writer holding the lock past ``busy_timeout``,
  a burst of session creations for one new agent) is retried inside the store:
  never a 500.
"""

from __future__ import annotations

import itertools
import random
import secrets
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from sessionbox import errors
from sessionbox.store.sqlite import path_from_url
from tests.conftest import LiveServer, http_client
from tests.reliability.conftest import assert_invariants, env_int
from tests.store.test_stateful import DIR, Model

OCTET = {"content-type": "application/octet-stream"}
WRITERS = 32
INCREMENTS = env_int("SESSIONBOX_RMW_INCREMENTS", 2)


def test_if_match_read_modify_write_loses_no_update(
    live_server: LiveServer, http: httpx.Client, session_url: str
) -> None:
    url = f"{session_url}/counter.txt"
    assert http.put(url, content=b"0", headers=OCTET).status_code == 201
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(WRITERS)

    def writer() -> None:
        with http_client(live_server.url, timeout=120) as client:
            start.wait()
            done = 0
            for _ in range(5000):  # a liveness bound only: every 412 is retried
                if done == INCREMENTS:
                    return
                current = client.get(url, params={"raw": "1"})
                assert current.status_code == 200, current.text
                answer = client.put(
                    url,
                    content=str(int(current.content) + 1).encode(),
                    headers={**OCTET, "If-Match": current.headers["etag"]},
                )
                with lock:
                    statuses.append(answer.status_code)
                if answer.status_code == 200:
                    done += 1
                else:
                    assert answer.status_code == 412, answer.text
            raise AssertionError("a writer never got its update in")

    with ThreadPoolExecutor(WRITERS) as pool:
        for future in [pool.submit(writer) for _ in range(WRITERS)]:
            future.result()
    final = int(http.get(url, params={"raw": "1"}).content)
    assert final == statuses.count(200) == WRITERS * INCREMENTS
    assert set(statuses) <= {200, 412}


# -- overlapping tree operations -------------------------------------------------------

TREE = {"/a/x/1": b"1", "/a/y/2": b"2", "/b/z/3": b"3", "/c/4": b"4", "/c/d/5": b"5"}
TREE_OPS: list[tuple[str, str, str]] = [
    ("move", "/a", "/b/a"),
    ("move", "/b", "/a/b"),
    ("move", "/c", "/a/c"),
    ("move", "/a/x", "/b/x"),
    ("move", "/b/z", "/e"),
    ("copy", "/a", "/c/a"),
    ("copy", "/b", "/d"),
    ("copy", "/c", "/b/c"),
    ("delete", "/b", ""),
    ("delete", "/a", ""),
    ("delete", "/c/d", ""),
]


def send(client: httpx.Client, base: str, op: tuple[str, str, str]) -> int:
    kind, src, dst = op
    if kind == "delete":
        return client.delete(f"{base}{src}", params={"recursive": "true"}).status_code
    return client.post(f"{base}/_/{kind}", json={"from": src, "to": dst}).status_code


def model_apply(model: Model, op: tuple[str, str, str]) -> bool:
    kind, src, dst = op
    try:
        if kind == "delete":
            model.delete(src, True)
        else:
            model.transfer(src, dst, kind == "copy")
    except errors.SessionboxError:
        return False
    return True


def serial_outcomes(ops: list[tuple[str, str, str]]) -> list[tuple[dict[str, object], list[bool]]]:
    """Final state and per-op success for every order the ops could have run in."""
    results = []
    for order in itertools.permutations(range(len(ops))):
        model = Model()
        for path, data in TREE.items():
            model.write(path, data)
        ok = [False] * len(ops)
        for i in order:
            ok[i] = model_apply(model, ops[i])
        results.append((model.items, ok))
    return results


def snapshot(client: httpx.Client, base: str) -> dict[str, object]:
    found: dict[str, object] = {}
    pending = ["/"]
    while pending:
        current = pending.pop()
        listing = client.get(base + ("" if current == "/" else current))
        assert listing.status_code == 200, listing.text
        for entry in listing.json()["data"]:
            if entry["is_directory"]:
                found[entry["path"]] = DIR
                pending.append(entry["path"])
            else:
                found[entry["path"]] = client.get(
                    f"{base}{entry['path']}", params={"raw": "1"}
                ).content
    return found


def test_overlapping_tree_operations_serialise(
    live_server: LiveServer, http: httpx.Client, agent: str
) -> None:
    rng = random.Random(secrets.randbits(32))
    rounds = env_int("SESSIONBOX_TREE_ROUNDS", 6)
    for _ in range(rounds):
        created = http.post(f"/v1/agents/{agent}/sessions", json={})
        base = f"/v1/agents/{agent}/sessions/{created.json()['id']}/fs"
        for path, data in TREE.items():
            assert http.put(f"{base}{path}", content=data, headers=OCTET).status_code == 201
        ops = rng.sample(TREE_OPS, 5)
        start = threading.Barrier(len(ops))

        def fire(
            op: tuple[str, str, str], base: str = base, start: threading.Barrier = start
        ) -> int:
            with http_client(live_server.url, timeout=60) as client:
                start.wait()
                return send(client, base, op)

        with ThreadPoolExecutor(len(ops)) as pool:
            statuses = list(pool.map(fire, ops))
        assert all(s < 500 for s in statuses), statuses
        succeeded = [200 <= s < 300 for s in statuses]
        actual = snapshot(http, base)
        possible = serial_outcomes(ops)
        assert (actual, succeeded) in possible, (ops, statuses, actual)
    assert_invariants(live_server.settings.store_url, live_server.settings.data_dir, agent)


# -- contention never surfaces as 500 --------------------------------------------------


def storm(live_server: LiveServer, agent: str, work: Callable[[httpx.Client, int], int]) -> None:
    def one(i: int) -> int:
        with http_client(live_server.url, timeout=120) as client:
            return work(client, i)

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = list(pool.map(one, range(WRITERS * 2)))
    assert all(200 <= s < 300 for s in statuses), statuses


def test_session_creation_burst_for_a_new_agent(live_server: LiveServer, agent: str) -> None:
    def create(client: httpx.Client, i: int) -> int:
        return client.post(f"/v1/agents/{agent}/sessions", json={}).status_code

    storm(live_server, agent, create)
    assert_invariants(live_server.settings.store_url, live_server.settings.data_dir, agent)


def test_write_burst_into_one_session(
    live_server: LiveServer, session_url: str, agent: str
) -> None:
    """Regression: PostgreSQL writers of one session locked its volume rows in no fixed
    order and deadlocked under load (found by the load test), surfacing as 500."""

    def write(client: httpx.Client, i: int) -> int:
        for j in range(4):
            answer = client.put(f"{session_url}/d{j}/f{i}", content=b"x" * i, headers=OCTET)
            if not answer.is_success:
                return answer.status_code
        return answer.status_code

    storm(live_server, agent, write)
    assert_invariants(live_server.settings.store_url, live_server.settings.data_dir, agent)


@pytest.mark.parametrize("live_server", ["sqlite"], indirect=True)
def test_writes_wait_out_an_outside_sqlite_writer(
    live_server: LiveServer, http: httpx.Client, session_url: str, agent: str
) -> None:
    """A CLI next to the server holds the write lock past busy_timeout: writes wait, then pass."""
    outside = sqlite3.connect(
        path_from_url(live_server.settings.store_url),
        isolation_level=None,
        timeout=30,
        check_same_thread=False,
    )
    outside.execute("BEGIN IMMEDIATE")
    released = threading.Timer(6.0, lambda: outside.execute("COMMIT"))
    released.start()

    def write(client: httpx.Client, i: int) -> int:
        return client.put(f"{session_url}/f{i}", content=b"x", headers=OCTET).status_code

    try:
        storm(live_server, agent, write)
    finally:
        released.join()
        outside.close()
    listing: dict[str, Any] = http.get(session_url).json()
    assert len(listing["data"]) == WRITERS * 2

"""The live change feed: store callbacks, the hub, and SSE over real HTTP."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sessionbox.client._watch import LocalWatch
from sessionbox.content import Content
from sessionbox.errors import Exists
from sessionbox.paths import VPath
from sessionbox.services.events import QUEUE_SIZE, EventHub
from sessionbox.services.files import FileService
from sessionbox.store import open_store
from sessionbox.store.base import Store
from sessionbox.store.postgres import notify_payload
from sessionbox.types import Change, VolumeKey
from tests.conftest import LiveServer, http_client, small_limits


def _collect(store: Store) -> tuple[list[Change], threading.Event, Any]:
    seen: list[Change] = []
    arrived = threading.Event()

    def on_change(change: Change) -> None:
        seen.append(change)
        arrived.set()

    return seen, arrived, store.watch(on_change)


def test_committed_changes_reach_watchers(store: Store, volume: VolumeKey) -> None:
    seen, arrived, unwatch = _collect(store)
    try:
        store.update(volume, lambda v: v.write(VPath("/a/b.txt"), Content.of(b"x"), mode="create"))
        store.update(volume, lambda v: v.move(VPath("/a/b.txt"), VPath("/a/c.txt")))
        with pytest.raises(Exists):  # a failed (rolled back) write announces nothing
            store.update(volume, lambda v: v.mkdir(VPath("/a")))
        store.update(volume, lambda v: v.delete(VPath("/a"), recursive=True))
        for _ in range(100):
            if len([c for c in seen if c.session_id == volume.session_id]) >= 3:
                break
            arrived.wait(0.1)
            arrived.clear()
    finally:
        unwatch()
    mine = [(c.op, c.path, c.to) for c in seen if c.session_id == volume.session_id]
    assert mine == [
        ("write", "/a/b.txt", None),
        ("move", "/a/b.txt", "/a/c.txt"),
        ("delete", "/a", None),
    ]
    assert all(
        c.agent_id == volume.agent_id and c.volume == "files"
        for c in seen
        if c.session_id == volume.session_id
    )


def test_unwatched_callbacks_hear_nothing(store: Store, volume: VolumeKey) -> None:
    seen, _, unwatch = _collect(store)
    unwatch()
    store.update(volume, lambda v: v.mkdir(VPath("/quiet")))
    assert [c for c in seen if c.session_id == volume.session_id] == []


def test_a_too_large_notification_becomes_a_coarse_one() -> None:
    long = "/" + "é" * 3000
    payload = json.loads(notify_payload(Change("a", "s", "files", "move", long, long + "x")))
    assert payload == {
        "agent": "a",
        "session": "s",
        "volume": "files",
        "op": "changed",
        "path": "/",
    }
    small = json.loads(notify_payload(Change("a", "s", "files", "write", "/é.txt")))
    assert small["path"] == "/é.txt"


class _NullStore:
    def watch(self, callback: Any) -> Any:
        return lambda: None


def test_a_slow_subscriber_gets_one_resync_instead_of_a_growing_queue() -> None:
    async def run() -> list[dict[str, Any]]:
        hub = EventHub(_NullStore())  # type: ignore[arg-type]
        async with hub.subscribe("a", "s") as sub:
            for n in range(QUEUE_SIZE + 50):
                hub.publish(Change("a", "s", "files", "write", f"/{n}"))
                hub.publish(Change("a", "other", "files", "write", f"/{n}"))
            await asyncio.sleep(0.05)
            assert sub.queue.qsize() == QUEUE_SIZE + 1
            events = [await sub.next() for _ in range(QUEUE_SIZE + 1)]
            hub.publish(Change("a", "s", "files", "write", "/after"))
            events.append(await sub.next())
            hub.close()
            assert await sub.next() is None
        assert hub.subscriber_count() == 0
        return [e for e in events if e is not None]

    events = asyncio.run(run())
    assert [e["path"] for e in events[:QUEUE_SIZE]] == [f"/{n}" for n in range(QUEUE_SIZE)]
    assert events[QUEUE_SIZE]["op"] == "resync"
    assert events[-1]["path"] == "/after"


def test_a_gap_in_the_store_feed_tells_every_subscriber_to_resync() -> None:
    """PostgreSQL's listener reconnected: each feed, of any session, gets its own resync."""

    async def run() -> list[dict[str, Any] | None]:
        hub = EventHub(_NullStore())  # type: ignore[arg-type]
        async with hub.subscribe("a", "s1") as one, hub.subscribe("b", "s2") as two:
            hub.publish(Change.gap())
            return [await one.next(), await two.next()]

    assert asyncio.run(run()) == [
        {"agent": "a", "session": "s1", "op": "resync"},
        {"agent": "b", "session": "s2", "op": "resync"},
    ]


def test_a_gap_reaches_an_in_process_watch_as_its_own_resync() -> None:
    heard: list[Any] = []

    def watch(callback: Any) -> Any:
        heard.append(callback)
        return lambda: None

    with LocalWatch(watch, "a", "s", "/src", timeout=1) as watch_:
        heard[0](Change.gap())
        assert next(watch_) == Change("a", "s", "files", "resync", "/")


# -- SSE over real HTTP ------------------------------------------------------------------


class SSE:
    """A minimal text/event-stream reader over an httpx streaming response."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self) -> tuple[str, dict[str, Any]]:
        name, data = "message", []
        for line in self._lines:
            if line == "":
                if data:
                    return name, json.loads("\n".join(data))
                name = "message"
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        raise EOFError("the stream ended")

    def next_change(self, session: str) -> dict[str, Any]:
        while True:
            name, data = self.next()
            if name == "change" and data["session"] == session:
                return data


@pytest.fixture
def sse_client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with http_client(live_server.url, timeout=httpx.Timeout(30)) as client:
        yield client


def _open_feed(client: httpx.Client, agent: str, session: str) -> Any:
    return client.stream("GET", f"/v1/agents/{agent}/sessions/{session}/events")


def test_sse_client_sees_changes_made_through_the_api(
    sse_client: httpx.Client, http: httpx.Client, session_url: str, agent: str
) -> None:
    session = session_url.split("/")[5]
    with _open_feed(sse_client, agent, session) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        feed = SSE(response)
        assert feed.next() == ("ready", {"session": session})
        assert (
            http.post(f"{session_url}/src/main.rs", json={"content": "fn main() {}"}).status_code
            == 201
        )
        assert (
            http.post(
                f"{session_url}/_/move", json={"from": "/src/main.rs", "to": "/src/lib.rs"}
            ).status_code
            == 200
        )
        assert http.delete(f"{session_url}/src", params={"recursive": "true"}).status_code == 200
        got = [feed.next_change(session) for _ in range(3)]
    assert [(c["op"], c["path"], c.get("to")) for c in got] == [
        ("write", "/src/main.rs", None),
        ("move", "/src/main.rs", "/src/lib.rs"),
        ("delete", "/src", None),
    ]
    assert all(c["agent"] == agent and c["volume"] == "files" for c in got)


def test_a_feed_hears_only_its_own_session(
    sse_client: httpx.Client, http: httpx.Client, session_url: str, agent: str
) -> None:
    session = session_url.split("/")[5]
    other = http.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    with _open_feed(sse_client, agent, session) as response:
        feed = SSE(response)
        feed.next()
        http.post(f"/v1/agents/{agent}/sessions/{other}/fs/noise.txt", json={"content": "x"})
        http.post(f"{session_url}/mine.txt", json={"content": "x"})
        name, data = feed.next()
    assert (name, data["session"], data["path"]) == ("change", session, "/mine.txt")


@pytest.mark.parametrize(
    ("session", "status", "code"),
    [
        ("safe_named_nobody", 404, "session_not_found"),
        ("not a session", 400, None),
    ],
)
def test_feed_of_a_missing_or_malformed_session_is_a_problem(
    http: httpx.Client, agent: str, session: str, status: int, code: str | None
) -> None:
    response = http.get(f"/v1/agents/{agent}/sessions/{session}/events")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    if code:
        assert response.json()["code"] == code


def test_postgres_change_through_another_store_instance_reaches_the_feed(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two replicas over one database: a write on one is pushed by the other."""
    settings = small_limits(tmp_path, store=postgres_url)
    server = LiveServer(settings).start()
    other: Store = open_store(postgres_url, settings)
    try:
        agent, session = f"agent-{secrets.token_hex(6)}", f"safe_named_{secrets.token_hex(6)}"
        other.create_session(agent, session, "safe", "named")
        with (
            http_client(server.url, timeout=30) as client,
            _open_feed(client, agent, session) as response,
        ):
            feed = SSE(response)
            assert feed.next()[0] == "ready"
            FileService(other, settings).write(
                agent, session, "/from-replica.txt", Content.of(b"hi")
            )
            change = feed.next_change(session)
        assert (change["op"], change["path"], change["volume"]) == (
            "write",
            "/from-replica.txt",
            "files",
        )
    finally:
        other.close()
        server.stop()


def test_serve_stops_on_sigint_while_a_feed_is_open(tmp_path: Path) -> None:
    """A real `sessionbox serve`: an open event stream must not keep it alive."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessionbox.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        assert (
            httpx.post(f"{base}/v1/agents/a/sessions", json={"id": "safe_named_s"}).status_code
            == 201
        )
        with (
            http_client(base, timeout=30) as client,
            _open_feed(client, "a", "safe_named_s") as response,
        ):
            feed = SSE(response)
            assert feed.next()[0] == "ready"
            proc.send_signal(signal.SIGINT)
            with pytest.raises((EOFError, httpx.TransportError)):
                while True:  # the server ends the stream instead of waiting for us
                    feed.next()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()

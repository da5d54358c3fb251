"""``sessionbox serve --workers 2``: two processes on one store, told apart by socket.

Which worker accepted a connection is read from /proc (the server end of our socket
belongs to exactly one worker's file table), so each test knows it crossed processes
rather than hoping the kernel spread the connections.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import _free_port


class Workers:
    """A real ``sessionbox serve --workers 2`` on a loopback port."""

    def __init__(self, store: str, data_dir: Path) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sessionbox.cli", "serve", "--port", str(self.port)]
            + ["--store", store, "--data-dir", str(data_dir), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 90
        while len(self.pids()) < 2 or not self._healthy():
            if self.proc.poll() is not None:
                raise RuntimeError(self.proc.stderr.read().decode()[-2000:])  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "serve --workers 2 did not start"
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def worker_of(self, sock: socket.socket, timeout: float = 10) -> int:
        """The pid of the worker holding the server end of ``sock``'s connection."""
        port = sock.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            inode = _server_inode(self.port, port)
            if inode:
                for pid in self.pids():
                    if _holds(pid, inode):
                        return pid
            time.sleep(0.02)
        raise AssertionError("no worker accepted the connection")

    def connect_to(self, pid: int | None, avoid: int | None = None) -> tuple[socket.socket, int]:
        """A connection accepted by worker ``pid`` (or by any but ``avoid``)."""
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", self.port))
            owner = self.worker_of(sock)
            if (pid is None or owner == pid) and owner != avoid:
                return sock, owner
            sock.close()
        raise AssertionError("the kernel never handed a connection to that worker")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr:
            self.proc.stderr.close()


def _server_inode(server_port: int, client_port: int) -> int:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], int(fields[9])
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return inode
    return 0


def _holds(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def _request(
    sock: socket.socket, method: str, path: str, body: bytes = b"", media: str = "application/json"
) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n"
    if body:
        head += f"Content-Type: {media}\r\n"
    sock.sendall(head.encode() + b"Connection: close\r\n\r\n" + body)
    sock.settimeout(30)
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


_RAW = "application/octet-stream"


class Feed:
    """An SSE stream read straight off a socket."""

    def __init__(self, sock: socket.socket, path: str) -> None:
        self.sock = sock
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        sock.settimeout(30)
        self.buffer = b""

    def change(self, wanted: str) -> dict[str, object]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for line in self.buffer.split(b"\n"):
                if line.startswith(b"data:") and wanted.encode() in line:
                    parsed: dict[str, object] = json.loads(line[5:])
                    return parsed
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buffer += chunk
        raise AssertionError(f"no change for {wanted} reached the feed: {self.buffer[-500:]!r}")

    def ready(self) -> None:
        while b"event: ready" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, self.buffer
            self.buffer += chunk


@pytest.fixture
def pg_workers(postgres_url: str, tmp_path: Path) -> Iterator[Workers]:
    server = Workers(postgres_url, tmp_path)
    yield server
    server.stop()


def test_a_write_on_one_worker_reaches_a_watcher_on_the_other(pg_workers: Workers) -> None:
    """PostgreSQL: the change feed crosses processes (LISTEN/NOTIFY)."""
    agent, session = f"agent-{secrets.token_hex(4)}", f"safe_named_{secrets.token_hex(4)}"
    made = httpx.post(f"{pg_workers.url}/v1/agents/{agent}/sessions", json={"id": session})
    assert made.status_code == 201
    watch_sock, watcher = pg_workers.connect_to(None)
    with watch_sock:
        feed = Feed(watch_sock, f"/v1/agents/{agent}/sessions/{session}/events")
        feed.ready()
        write_sock, writer = pg_workers.connect_to(None, avoid=watcher)
        assert writer != watcher
        with write_sock:
            answer = _request(
                write_sock,
                "POST",
                f"/v1/agents/{agent}/sessions/{session}/fs/crossed.txt",
                b'{"content": "hi"}',
            )
        assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
        change = feed.change("/crossed.txt")
    assert (change["op"], change["session"], change["path"]) == ("write", session, "/crossed.txt")


def test_both_sqlite_workers_serve_one_store(tmp_path: Path) -> None:
    """SQLite: each worker writes, and each reads what the other wrote."""
    server = Workers(f"sqlite:///{tmp_path / 'one.db'}", tmp_path)
    try:
        base = "/v1/agents/a/sessions/safe_named_w/fs"
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            assert _request(sock, "POST", "/v1/agents/a/sessions", b'{"id": "safe_named_w"}')[
                9:12
            ] == (b"201")
        first, one = server.connect_to(None)
        second, two = server.connect_to(None, avoid=one)
        with first, second:
            assert _request(first, "PUT", f"{base}/from-{one}", b"1", _RAW).startswith(
                b"HTTP/1.1 201"
            )
            assert _request(second, "PUT", f"{base}/from-{two}", b"2", _RAW).startswith(
                b"HTTP/1.1 201"
            )
        third, _ = server.connect_to(one)
        fourth, _ = server.connect_to(two)
        with third, fourth:
            assert _request(third, "GET", f"{base}/from-{two}?raw=1").endswith(b"\r\n\r\n2")
            assert _request(fourth, "GET", f"{base}/from-{one}?raw=1").endswith(b"\r\n\r\n1")
    finally:
        server.stop()

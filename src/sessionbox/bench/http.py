"""sessionbox over HTTP and the HTTP floor: uvicorn on loopback in a subprocess.

The server runs in its own process so the client's CPU does not hide in its numbers
and its memory can be watched on its own; requests go through httpx (sync at
concurrency 1, asyncio at concurrency 32).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from sessionbox.bench._measure import Timings
from sessionbox.bench.contender import Contender
from sessionbox.bench.inprocess import AGENT

_UNLIMITED = str(1 << 40)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A uvicorn subprocess on a loopback port, up when ``/healthz`` answers."""

    def __init__(self, argv: list[str], port: int, env: dict[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


class _HttpContender(Contender):
    server: Server
    client: httpx.Client

    def _read_url(self, path: str) -> str:
        raise NotImplementedError

    def concurrent_reads(self, paths: list[str], concurrency: int, budget_s: float) -> Timings:
        """GET every path with ``concurrency`` requests in flight, each one timed."""
        return asyncio.run(self._concurrent(paths, concurrency, budget_s))

    async def _concurrent(self, paths: list[str], concurrency: int, budget_s: float) -> Timings:
        timings = Timings()
        todo: Iterator[str] = iter(paths)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        clock = time.perf_counter_ns
        started = clock()
        deadline = started + int(budget_s * 1e9)

        async with httpx.AsyncClient(base_url=self.server.url, limits=limits, timeout=60) as cli:

            async def worker() -> None:
                for path in todo:
                    t0 = clock()
                    response = await cli.get(self._read_url(path))
                    t1 = clock()
                    response.raise_for_status()
                    timings.samples.append(t1 - t0)
                    if t1 > deadline:
                        timings.truncated = True
                        return

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        timings.seconds = (clock() - started) / 1e9
        return timings

    def close(self) -> None:
        self.client.close()
        self.server.stop()


class SessionboxHttp(_HttpContender):
    """``sessionbox serve`` on a store URL; one fresh session; reads use ``?raw=1``."""

    def __init__(self, name: str, store_url: str, data_dir: Path) -> None:
        self.name = name
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
        env |= {
            "SESSIONBOX_MAX_FILE_BYTES": _UNLIMITED,
            "SESSIONBOX_SESSION_QUOTA_BYTES": _UNLIMITED,
            "SESSIONBOX_MAX_ENTRIES_PER_SESSION": "10000000",
        }
        argv = [sys.executable, "-m", "sessionbox.cli", "serve", "--port", str(port)]
        argv += ["--store", store_url, "--data-dir", str(data_dir)]
        self.server = Server(argv, port, env)
        self.server_pid = self.server.pid
        self.client = httpx.Client(base_url=self.server.url, timeout=120)
        created = self._ok(self.client.post(f"/v1/agents/{AGENT}/sessions", json={}))
        self.session_url = f"/v1/agents/{AGENT}/sessions/{created.json()['id']}"
        self.fs = self.session_url + "/fs"
        self._etags: dict[str, str] = {}

    @staticmethod
    def _ok(response: httpx.Response) -> httpx.Response:
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code}: {response.text[:500]}")
        return response

    def _read_url(self, path: str) -> str:
        return f"{self.fs}{path}?raw=1"

    def create(self, path: str, data: bytes) -> None:
        body = {"content": data.decode(), "encoding": "text"}
        self._etags[path] = self._ok(self.client.post(self.fs + path, json=body)).headers["ETag"]

    def read(self, path: str) -> bytes:
        return self._ok(self.client.get(self._read_url(path))).content

    def stat(self, path: str) -> None:
        self._ok(self.client.post(self.fs + "/_/stat", json={"path": path}))

    def list(self, path: str) -> int:
        return len(self._ok(self.client.get(self.fs + path)).json()["data"])

    def overwrite(self, path: str, data: bytes) -> None:
        body = {"content": data.decode(), "encoding": "text"}
        headers = {"If-Match": self._etags[path]}
        response = self._ok(self.client.put(self.fs + path, json=body, headers=headers))
        self._etags[path] = response.headers["ETag"]

    def _action(self, name: str, body: dict[str, Any]) -> httpx.Response:
        return self._ok(self.client.post(f"{self.fs}/_/{name}", json=body))

    def move(self, src: str, dst: str) -> None:
        self._action("move", {"from": src, "to": dst})

    def copy(self, src: str, dst: str) -> None:
        self._action("copy", {"from": src, "to": dst})

    def delete_tree(self, path: str) -> None:
        self._ok(self.client.delete(self.fs + path, params={"recursive": "true"}))

    def grep(self, pattern: str) -> int:
        found = self._action("grep", {"pattern": pattern, "max_matches": 10_000_000})
        return len(found.json()["data"])

    def stream_in(self, path: str, source: Path) -> None:
        def pieces() -> Iterator[bytes]:
            with source.open("rb") as stream:
                while piece := stream.read(1024 * 1024):
                    yield piece

        headers = {"Content-Type": "application/octet-stream"}
        self._ok(self.client.put(self.fs + path, content=pieces(), headers=headers))

    def stream_out(self, path: str, target: Path) -> None:
        with self.client.stream("GET", self._read_url(path)) as response, target.open("wb") as out:
            self._ok(response)
            for piece in response.iter_bytes(1024 * 1024):
                out.write(piece)

    def close(self) -> None:
        try:
            self.client.delete(self.session_url)
        finally:
            super().close()


class HttpFloor(_HttpContender):
    """A Starlette app answering 1 KiB from memory: the most any HTTP read can do here."""

    name = "HTTP floor"
    only = frozenset({"read", "read c=32"})

    def __init__(self) -> None:
        port = free_port()
        self.server = Server([sys.executable, "-m", "sessionbox.bench._floor", str(port)], port)
        self.server_pid = self.server.pid
        self.client = httpx.Client(base_url=self.server.url, timeout=60)

    def _read_url(self, path: str) -> str:
        return path

    def create(self, path: str, data: bytes) -> None:
        """Nothing to store: the floor serves the same 1 KiB for every path."""

    def read(self, path: str) -> bytes:
        response = self.client.get(path)
        response.raise_for_status()
        return response.content

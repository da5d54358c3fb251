"""sessionbox over HTTP and the HTTP references, driven by ``wrk`` (``bench.wrk``).

Every server runs in its own process on a loopback port. Each HTTP row is one wrk run
(``-t1``, 32 connections unless the row says ``c=1``) against one session holding the
plan's files of 1 KiB in a ``/dN/dN/dN/fN`` layout (10 entries per directory), with the
CPU seconds of client and server beside it. The references, measured by the same client
in the same run: a bare Starlette app answering 1 KiB from memory (the floor) and a bare
FastAPI route with one async dependency doing the same. Large bodies go through
``curl`` (compiled too), timed with the server's RSS watched.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from sessionbox.bench import wrk
from sessionbox.bench._measure import Result, RssPeak
from sessionbox.bench.contender import Contender
from sessionbox.bench.inprocess import AGENT, InProcess, bench_settings
from sessionbox.bench.workloads import KiB, MiB, content

_UNLIMITED = str(1 << 40)
GET_RAW = "HTTP GET raw c=32"
GET_RAW_C1 = "HTTP GET raw c=1"
GET_JSON = "HTTP GET JSON c=32"
LIST = "HTTP list 10-entry dir c=32"
PUT_RAW = "HTTP PUT raw overwrite c=32"
POST_NEW = "HTTP POST new file c=32"
GET_RAW_TOKEN = "HTTP GET raw c=32 scoped token"
PUT_RAW_TOKEN = "HTTP PUT raw overwrite c=32 scoped token"
# (workload, wrk mode, connections, with a scoped token)
SCENARIOS: tuple[tuple[str, str, int, bool], ...] = (
    (GET_RAW, "raw", 32, False),
    (GET_JSON, "json", 32, False),
    (LIST, "list", 32, False),
    (PUT_RAW, "put", 32, False),
    (POST_NEW, "post", 32, False),
    (GET_RAW_C1, "raw", 1, False),
    (GET_RAW_TOKEN, "raw", 32, True),
    (PUT_RAW_TOKEN, "put", 32, True),
)
REFERENCE_SCENARIOS = SCENARIOS[:1] + SCENARIOS[5:6]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_path(i: int) -> str:
    """The wrk scripts' layout: ten entries per directory, three directory levels."""
    return f"/d{i // 1000 % 10}/d{i // 100 % 10}/d{i // 10 % 10}/f{i % 10}"


class Server:
    """A server subprocess on a loopback port, up when ``/healthz`` answers."""

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


class HttpContender(Contender):
    """A server measured by wrk scenarios rather than by one-at-a-time operations."""

    scenarios: tuple[tuple[str, str, int, bool], ...] = REFERENCE_SCENARIOS
    server: Server | None = None
    base = ""
    files = 1

    def run_http(self, n: int, seconds: float) -> list[Result]:
        """Every scenario once, in order; a failing one is an error row, not the end."""
        results = []
        for workload, mode, connections, scoped in self.scenarios:
            result = Result(workload, self.name, n)
            try:
                self._before(scoped)
                assert self.server is not None
                got = wrk.run(
                    self.server.url,
                    mode,
                    base=self.base,
                    files=self.files,
                    connections=connections,
                    seconds=seconds,
                    token=self.token if scoped else None,
                    server_pid=self.server.pid,
                    nonce=secrets.token_hex(3),
                )
            except Exception as exc:
                result.status, result.note = "error", f"{type(exc).__name__}: {exc}"[:300]
            else:
                fill_wrk(result, got)
            results.append(result)
        return results

    token: str | None = None

    def _before(self, scoped: bool) -> None:
        """Ready the server for a scenario (sessionbox restarts with an admin token)."""

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()


def fill_wrk(result: Result, got: wrk.WrkRun) -> Result:
    result.ops = got.requests
    result.seconds = got.seconds
    result.p50_us = float(got.p50_us)
    result.p99_us = float(got.p99_us)
    result.client_cpu_s = round(got.client_cpu_s, 2)
    result.server_cpu_s = round(got.server_cpu_s, 2)
    result.errors = got.errors
    if got.errors:
        result.status, result.note = "error", f"{got.errors} failed requests (non-2xx or socket)"
    return result


class HttpFloor(HttpContender):
    """A Starlette app answering 1 KiB from memory: the most any HTTP read can do here."""

    name = "HTTP floor"
    flavour = "starlette"

    def __init__(self) -> None:
        port = free_port()
        argv = [sys.executable, "-m", "sessionbox.bench._floor", str(port), self.flavour]
        self.server = Server(argv, port)
        self.server_pid = self.server.pid


class HttpFastapi(HttpFloor):
    """A bare FastAPI route with one async dependency, 1 KiB from memory."""

    name = "HTTP FastAPI route"
    flavour = "fastapi"


class SessionboxHttp(HttpContender):
    """``sessionbox serve`` on a store URL: one session of ``n`` files of 1 KiB."""

    scenarios = SCENARIOS

    def __init__(self, name: str, store_url: str, data_dir: Path, n: int, workers: int = 1) -> None:
        self.name = name
        self.store_url = store_url
        self.data_dir = data_dir
        self.workers = workers
        self.files = max(n, 1)
        self.admin = secrets.token_urlsafe(16)
        filler = InProcess(name, store_url, data_dir)
        try:
            self.session_id = filler.session_id
            data = content(1, size=KiB)
            filler.fill(
                self.session_id, [http_path(i) for i in range(self.files)], data, budget_s=600
            )
            from sessionbox.services.tokens import TokenService

            issued = TokenService(filler.box.store).create(
                AGENT, "safe", session_id=self.session_id
            )
            self.token = issued.token
        finally:
            filler.box.close()
        self.base = f"/v1/agents/{AGENT}/sessions/{self.session_id}/fs"
        self._scoped: bool | None = None
        self._start(scoped=False)

    def _start(self, *, scoped: bool) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
        env |= {
            "SESSIONBOX_MAX_FILE_BYTES": _UNLIMITED,
            "SESSIONBOX_SESSION_QUOTA_BYTES": _UNLIMITED,
            "SESSIONBOX_MAX_ENTRIES_PER_SESSION": "10000000",
            "SESSIONBOX_JSON_READ_LIMIT_BYTES": str(64 * MiB),
            "SESSIONBOX_WORKERS": str(self.workers),
        }
        if scoped:
            env["SESSIONBOX_ADMIN_TOKEN"] = self.admin
        argv = [sys.executable, "-m", "sessionbox.cli", "serve", "--port", str(port)]
        argv += ["--store", self.store_url, "--data-dir", str(self.data_dir)]
        self.server = Server(argv, port, env)
        self.server_pid = self.server.pid
        self._scoped = scoped

    def _before(self, scoped: bool) -> None:
        if scoped != self._scoped:
            self._start(scoped=scoped)

    def stream_in(self, path: str, source: Path) -> None:
        self._curl(["-T", str(source), "-H", "Content-Type: application/octet-stream"], path)

    def stream_out(self, path: str, target: Path) -> None:
        self._curl(["-o", str(target)], path + "?raw=1")

    def _curl(self, args: list[str], path: str) -> None:
        assert self.server is not None
        url = self.server.url + self.base + path
        curl = wrk.ensure_tool("curl", "curl")
        done = subprocess.run(
            [curl, "-sS", "--fail-with-body", *args, url], capture_output=True, timeout=600
        )
        if done.returncode != 0:
            raise RuntimeError(f"curl failed: {done.stdout[-300:]!r} {done.stderr[-300:]!r}")

    def run_streams(self, stream_mib: int, scratch: Path) -> list[Result]:
        """A large file streamed in and out with curl, the server's RSS watched."""
        if self._scoped:
            self._start(scoped=False)
        size = stream_mib * MiB
        source = scratch / "stream.src"
        if not source.exists() or source.stat().st_size != size:
            block = os.urandom(MiB)
            with source.open("wb") as out:
                for _ in range(stream_mib):
                    out.write(block)
        sink = scratch / "stream.out"
        results: list[Result] = []
        steps: list[tuple[str, Callable[[], None]]] = [
            ("stream in", lambda: self.stream_in("/stream.bin", source)),
            ("stream out", lambda: self.stream_out("/stream.bin", sink)),
        ]
        for name, step in steps:
            result = Result(name, self.name, 0, bytes=size)
            assert self.server is not None
            try:
                with RssPeak(self.server.pid) as peak:
                    t0 = time.perf_counter_ns()
                    step()
                    took = time.perf_counter_ns() - t0
            except Exception as exc:
                result.status, result.note = "error", f"{type(exc).__name__}: {exc}"[:300]
                results.append(result)
                break
            result.ops, result.seconds = 1, took / 1e9
            result.p50_us = result.p99_us = took / 1000
            result.rss_growth_mib = round(peak.growth_mib, 1)
            result.note = f"{stream_mib} MiB with curl, server RSS"
            results.append(result)
        if sink.exists() and sink.stat().st_size != size:
            results[-1].status, results[-1].note = "error", "streamed bytes differ"
        sink.unlink(missing_ok=True)
        return results

    def close(self) -> None:
        super().close()
        settings = bench_settings(self.data_dir, self.store_url)
        from sessionbox.client.local import Sessionbox
        from sessionbox.store import open_store

        box = Sessionbox(open_store(self.store_url, settings), settings)
        try:
            box.delete_session(AGENT, self.session_id)
        finally:
            box.close()

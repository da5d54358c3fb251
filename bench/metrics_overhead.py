"""What the operator's view costs a small raw read (issue 21): wrk against one server per
configuration, loaded one after the other in rotating order, several rounds.

Configurations (same code, same store kind, each its own data directory):
  bare      the app without the request observer (no X-Request-Id): the floor
  default   the shipped default: X-Request-Id only (metrics and access log off)
  metrics   SESSIONBOX_METRICS=1
  full      metrics and the access log (JSON lines to a file)

Usage: .venv/bin/python bench/metrics_overhead.py [--rounds 3] [--seconds 10] [--conns 1 32]
Prints a Markdown table: requests/s and latency from wrk, server CPU per request (from
/proc/<pid>/stat), wrk's own CPU (getrusage of children), and the ratio to ``bare`` of the
same round. Needs Debian's wrk (installed with apt-get when missing).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass
from pathlib import Path

import httpx

CONFIGS = {
    "bare": {},
    "default": {},
    "metrics": {"SESSIONBOX_METRICS": "1"},
    "full": {"SESSIONBOX_METRICS": "1", "SESSIONBOX_ACCESS_LOG": "1"},
}
AGENT, SESSION, FILE = "bench", "safe_named_bench", "/small.txt"
BODY = b"x" * 100
TICKS = os.sysconf("SC_CLK_TCK")


def serve(config: str, port: int, data_dir: str) -> None:
    """The server process of one configuration (``bare`` unwraps the observer)."""
    import uvicorn
    from fastapi import FastAPI

    from sessionbox.api.app import create_app
    from sessionbox.config import Settings

    app = create_app(Settings(data_dir=Path(data_dir)))
    if config == "bare":
        app.build_middleware_stack = lambda: FastAPI.build_middleware_stack(app)  # type: ignore[method-assign]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


@dataclass
class Server:
    config: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/agents/{AGENT}/sessions/{SESSION}/fs{FILE}?raw=1"


def start(config: str, root: Path) -> Server:
    data_dir = root / config
    import sessionbox

    with sessionbox.open(f"sqlite:///{data_dir / 'sessionbox.db'}") as box:
        box.create_session(AGENT, SESSION)
        box.session(AGENT, SESSION).files.write(FILE, BODY)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
    env.update(CONFIGS[config])
    port = _free_port()
    log = (root / f"{config}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", config, str(port), str(data_dir)],
        env=env,
        stdout=log,
        stderr=log,
    )
    server = Server(config, port, process)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(server.url, timeout=2).content == BODY:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"{config} server did not start: see {root}/{config}.log")
        time.sleep(0.2)


def wrk_binary() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests._apt import ensure

    return str(ensure("wrk"))


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    server_us_per_req: float
    client_us_per_req: float


def load(wrk: str, server: Server, conns: int, seconds: int) -> Run:
    before_server = _cpu_seconds(server.process.pid)
    before_client = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [wrk, "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", server.url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    after_client = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_cpu = _cpu_seconds(server.process.pid) - before_server
    client_cpu = (after_client.ru_utime + after_client.ru_stime) - (
        before_client.ru_utime + before_client.ru_stime
    )
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise RuntimeError(f"{server.config}: errors under load\n{out}")
    return Run(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        p50_ms=_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        p99_ms=_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        server_us_per_req=server_cpu / requests * 1e6,
        client_us_per_req=client_cpu / requests * 1e6,
    )


def micro(calls: int) -> None:
    """The observer's own cost per request, in-process around an app that answers 100 bytes
    at once: what the wrk ratio should be explained by."""
    import asyncio
    import logging

    from sessionbox.api.metrics import Metrics
    from sessionbox.api.observe import RequestObserver, access_log

    access_log.addHandler(logging.NullHandler())
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"100")]

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": BODY})  # type: ignore[operator]

    async def sink(message: object) -> None:
        pass

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v1/agents/a/sessions/s/fs/small.txt",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"user-agent", b"wrk")],
        "client": ("127.0.0.1", 5000),
    }
    variants = {
        "bare": app,
        "default": RequestObserver(app, None, log=False),
        "metrics": RequestObserver(app, Metrics(), log=False),
        "full": RequestObserver(app, Metrics(), log=True),
    }

    async def run(target: object) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await target(dict(scope), None, sink)  # type: ignore[operator]
        return (time.perf_counter() - start) / calls * 1e6

    print("| variant | µs per request (best of 5) | added to bare |")
    print("|---|---|---|")
    results = {
        name: min(asyncio.run(run(target)) for _ in range(5)) for name, target in variants.items()
    }
    for name, us in results.items():
        print(f"| {name} | {us:.2f} | {us - results['bare']:+.2f} |")

    from sessionbox.api.metrics import _timed

    def stat() -> None:
        pass

    timed = _timed("stat", stat, Metrics())
    plain = min(timeit.repeat(stat, number=calls, repeat=5)) / calls * 1e6
    metered = min(timeit.repeat(timed, number=calls, repeat=5)) / calls * 1e6
    print(f"\na store call through MeteredStore: {metered - plain:+.2f} µs (per store call)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--conns", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--micro", type=int, metavar="CALLS", help="in-process cost only")
    parser.add_argument("--serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.micro:
        micro(args.micro)
        return
    if args.serve:
        serve(*args.serve[:1], int(args.serve[1]), args.serve[2])
        return
    wrk = wrk_binary()
    root = Path(tempfile.mkdtemp(prefix="sessionbox-metrics-bench-"))
    servers = [start(config, root) for config in CONFIGS]
    results: dict[tuple[str, int], list[Run]] = {}
    ratios: dict[tuple[str, int], list[float]] = {}
    try:
        for conns in args.conns:
            for server in servers:  # warm-up, not recorded
                load(wrk, server, conns, 2)
            for round_no in range(args.rounds):
                order = servers[round_no % len(servers) :] + servers[: round_no % len(servers)]
                this_round = {s.config: load(wrk, s, conns, args.seconds) for s in order}
                for config, run in this_round.items():
                    results.setdefault((config, conns), []).append(run)
                    ratios.setdefault((config, conns), []).append(run.rps / this_round["bare"].rps)
    finally:
        for server in servers:
            server.process.terminate()
            server.process.wait(20)
    print(f"load average at the end: {os.getloadavg()}")
    print("| config | c | req/s (median) | vs bare (per round) | p50 ms | p99 ms "
          "| server CPU µs/req | wrk CPU µs/req |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for (config, conns), runs in results.items():
        med = statistics.median
        spread = ", ".join(f"{r:.3f}" for r in ratios[(config, conns)])
        print(
            f"| {config} | {conns} | {med(r.rps for r in runs):.0f} | {spread} "
            f"| {med(r.p50_ms for r in runs):.2f} | {med(r.p99_ms for r in runs):.2f} "
            f"| {med(r.server_us_per_req for r in runs):.0f} "
            f"| {med(r.client_us_per_req for r in runs):.1f} |"
        )


if __name__ == "__main__":
    main()

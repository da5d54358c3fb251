"""Bounded load test on loopback: a real ``sessionbox serve`` per store, many connections.

    .venv/bin/python bench/load.py --store sqlite --seconds 60 --connections 64 --files 10000

Fills one session with ``--files`` files of 1 KiB, then for ``--seconds`` keeps
``--connections`` requests in flight: 80 % JSON reads, 20 % raw overwrites of a
random file. Reports throughput, p50/p99 latency, errors (any non-2xx or
transport error) and the server's RSS after warm-up and at the end. Stops by
itself; touches nothing but loopback and a database it creates and drops.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ADMIN_PG = os.environ.get("SESSIONBOX_LOAD_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Server:
    def __init__(self, store_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "sessionbox.cli",
            "serve",
            "--port",
            str(self.port),
            "--store",
            store_url,
            "--data-dir",
            str(data_dir),
        ]
        self.log = data_dir / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)


async def fill(
    client: httpx.AsyncClient, base: str, files: int, connections: int
) -> dict[str, int]:
    """Write every file once (retrying a failed one); returns the errors seen on the way."""
    queue = list(range(files))
    errors: dict[str, int] = {}

    async def worker() -> None:
        while queue:
            i = queue.pop()
            try:
                answer = await client.put(
                    f"{base}/d{i % 100}/f{i}.txt", content=secrets.token_hex(512).encode()
                )
                label = "" if answer.is_success else str(answer.status_code)
            except httpx.HTTPError as exc:
                label = type(exc).__name__
            if label:
                errors[label] = errors.get(label, 0) + 1
                queue.append(i)

    await asyncio.gather(*(worker() for _ in range(connections)))
    return errors


async def run_load(args: argparse.Namespace, server: Server) -> dict[str, Any]:
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as client:
        agent = f"load-{secrets.token_hex(4)}"
        created = await client.post(f"/v1/agents/{agent}/sessions", json={})
        base = f"/v1/agents/{agent}/sessions/{created.json()['id']}/fs"
        started = time.monotonic()
        fill_errors = await fill(client, base, args.files, args.connections)
        fill_seconds = time.monotonic() - started

        latencies: list[float] = []
        errors: dict[str, int] = {}
        counts = {"read": 0, "write": 0}
        warm_until = time.monotonic() + args.warmup
        end = warm_until + args.seconds
        rss_warm: list[float] = []

        async def worker(rng: random.Random) -> None:
            while (now := time.monotonic()) < end:
                i = rng.randrange(args.files)
                path = f"{base}/d{i % 100}/f{i}.txt"
                kind = "read" if rng.random() < 0.8 else "write"
                t0 = time.perf_counter()
                try:
                    if kind == "read":
                        answer = await client.get(path)
                    else:
                        answer = await client.put(path, content=secrets.token_hex(512).encode())
                    ok = answer.is_success
                    label = str(answer.status_code)
                except httpx.HTTPError as exc:
                    ok, label = False, type(exc).__name__
                if now < warm_until:
                    continue
                latencies.append(time.perf_counter() - t0)
                counts[kind] += 1
                if not ok:
                    errors[label] = errors.get(label, 0) + 1

        async def sample_rss() -> None:
            await asyncio.sleep(max(0.0, warm_until - time.monotonic()))
            rss_warm.append(rss_mib(server.proc.pid))

        rngs = [random.Random(n) for n in range(args.connections)]
        await asyncio.gather(sample_rss(), *(worker(r) for r in rngs))
        rss_end = rss_mib(server.proc.pid)
    latencies.sort()
    total = len(latencies)
    return {
        "store": args.store,
        "seconds": args.seconds,
        "connections": args.connections,
        "files": args.files,
        "fill_seconds": round(fill_seconds, 1),
        "fill_errors": fill_errors,
        "requests": total,
        "reads": counts["read"],
        "writes": counts["write"],
        "throughput_rps": round(total / args.seconds, 1),
        "p50_ms": round(statistics.quantiles(latencies, n=100)[49] * 1000, 1),
        "p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1000, 1),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "rss_after_warmup_mib": round(rss_warm[0], 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_warm[0]) / rss_warm[0], 1),
        "load_average_at_end": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sessionbox-load-") as tmp:
        database = None
        if args.store == "sqlite":
            url = f"sqlite:///{tmp}/load.db"
        else:
            import psycopg

            database = f"sb_load_{secrets.token_hex(4)}"
            with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
            url = ADMIN_PG.rsplit("/", 1)[0] + f"/{database}"
        server = Server(url, Path(tmp))
        try:
            result = asyncio.run(run_load(args, server))
        finally:
            print(server.log.read_text(errors="replace")[-6000:], file=sys.stderr)
            server.stop()
            if database:
                import psycopg

                with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    print(json.dumps(result))


if __name__ == "__main__":
    main()

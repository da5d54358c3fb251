"""Bounded load test on loopback: a real ``sessionbox serve`` per store, many connections.

    .venv/bin/python bench/load.py --store sqlite --workers 1 --seconds 60 --connections 64

Fills one session with ``--files`` files of 1 KiB (``/dN/dN/dN/fN``, in-process, before
the server starts), then drives the server with Debian's ``wrk`` (a compiled client, so
the server is what saturates; installed with apt-get when missing): a warm-up, then
``--seconds`` with ``--connections`` connections, 80 % JSON reads and 20 % raw
overwrites of random files. Reports throughput, p50/p99 latency, failed requests
(non-2xx or socket errors), the CPU seconds of client and server, and the RSS of every
server process sampled through the run. Stops by itself; touches nothing but loopback
and a database it creates and drops.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from sessionbox.bench import wrk
from sessionbox.bench.http import SessionboxHttp
from sessionbox.bench.wrk import process_tree

ADMIN_PG = os.environ.get("SESSIONBOX_LOAD_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def rss_mib(pid: int) -> float:
    """Resident memory of a server: every process of its tree."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def sample_rss(pid: int, every: float, stop: threading.Event, out: list[float]) -> None:
    while not stop.wait(every):
        out.append(round(rss_mib(pid), 1))


def run_load(args: argparse.Namespace, server: SessionboxHttp) -> dict[str, Any]:
    assert server.server is not None
    pid, url = server.server.pid, server.server.url
    warm = wrk.run(
        url,
        "mix",
        base=server.base,
        files=server.files,
        connections=args.connections,
        seconds=args.warmup,
        server_pid=pid,
    )
    rss_warm = rss_mib(pid)
    trend: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_rss, args=(pid, args.seconds / 6, stop, trend))
    sampler.start()
    try:
        got = wrk.run(
            url,
            "mix",
            base=server.base,
            files=server.files,
            connections=args.connections,
            seconds=args.seconds,
            server_pid=pid,
        )
    finally:
        stop.set()
        sampler.join()
    rss_end = rss_mib(pid)
    return {
        "store": args.store,
        "workers": args.workers,
        "seconds": round(got.seconds, 1),
        "connections": args.connections,
        "files": args.files,
        "mix": "80% GET JSON / 20% PUT raw, random file",
        "requests": got.requests,
        "throughput_rps": round(got.rps, 1),
        "p50_ms": round(got.p50_us / 1000, 2),
        "p99_ms": round(got.p99_us / 1000, 2),
        "errors": got.errors,
        "warmup_errors": warm.errors,
        "client_cpu_s": round(got.client_cpu_s, 1),
        "server_cpu_s": round(got.server_cpu_s, 1),
        "rss_after_warmup_mib": round(rss_warm, 1),
        "rss_trend_mib": trend,
        "rss_end_mib": round(rss_end, 1),
        "rss_growth_pct": round(100 * (rss_end - rss_warm) / rss_warm, 1),
        "load_average_start": args.load_start,
        "load_average_end": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--files", type=int, default=10_000)
    args = parser.parse_args()
    args.load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="sessionbox-load-") as tmp:
        database = None
        if args.store == "sqlite":
            url = f"sqlite:///{tmp}/load.db"
        else:
            import psycopg

            database = f"sb_load_{secrets.token_hex(4)}"
            with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"'.encode())
            url = ADMIN_PG.rsplit("/", 1)[0] + f"/{database}"
        server = SessionboxHttp(f"load {args.store}", url, Path(tmp), args.files, args.workers)
        try:
            result = run_load(args, server)
        finally:
            try:
                server.close()
            finally:
                if database:
                    import psycopg

                    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'.encode())
    print(json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Timing one operation at a time, bounded in count and in time, and sampling RSS."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Result:
    """One workload on one contender: what the JSON file and the table hold."""

    workload: str
    contender: str
    n: int
    ops: int = 0
    seconds: float = 0.0
    p50_us: float | None = None
    p99_us: float | None = None
    bytes: int = 0
    rss_growth_mib: float | None = None
    #: Files the contender held for this workload (grep, listing at scale), when it matters.
    files: int | None = None
    truncated: bool = False
    note: str = ""
    status: str = "ok"  # ok | n/a | error | skipped
    #: HTTP rows: CPU seconds of the load generator and of the server's processes.
    client_cpu_s: float | None = None
    server_cpu_s: float | None = None
    #: HTTP rows: failed requests (non-2xx, socket errors, timeouts).
    errors: int = 0

    @property
    def ops_per_s(self) -> float | None:
        return self.ops / self.seconds if self.seconds > 0 and self.ops else None

    @property
    def mib_per_s(self) -> float | None:
        return self.bytes / self.seconds / 2**20 if self.seconds > 0 and self.bytes else None

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["ops_per_s"] = self.ops_per_s
        out["mib_per_s"] = self.mib_per_s
        return out


@dataclass
class Timings:
    """Per-operation latencies in nanoseconds and the wall time they took together."""

    samples: list[int] = field(default_factory=list)
    seconds: float = 0.0
    truncated: bool = False

    def fill(self, result: Result) -> Result:
        result.ops = len(self.samples)
        result.seconds = self.seconds
        result.truncated = self.truncated
        if self.samples:
            result.p50_us = percentile(self.samples, 50) / 1000
            result.p99_us = percentile(self.samples, 99) / 1000
        return result


def percentile(samples: list[int], q: float) -> float:
    """Nearest-rank percentile: no interpolation, so p99 of 100 samples is a real sample."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))
    return float(ordered[int(rank) - 1])


def run_ops(items: Iterable[T], op: Callable[[T], object], *, budget_s: float) -> Timings:
    """Time ``op`` on each item, one after another, stopping when the time budget is spent."""
    timings = Timings()
    clock = time.perf_counter_ns
    started = clock()
    deadline = started + int(budget_s * 1e9)
    for item in items:
        t0 = clock()
        op(item)
        t1 = clock()
        timings.samples.append(t1 - t0)
        if t1 > deadline:
            timings.truncated = True
            break
    timings.seconds = (clock() - started) / 1e9
    return timings


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid or os.getpid()}/status") as status:  # noqa: PTH123
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class RssPeak:
    """Samples a process's RSS every few milliseconds while a block runs; reports growth."""

    def __init__(self, pid: int | None = None, interval_s: float = 0.005) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.baseline = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssPeak:
        self.baseline = self.peak = rss_bytes(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.baseline) / 2**20

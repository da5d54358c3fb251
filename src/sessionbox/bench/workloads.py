"""The workloads of issue 7, written once against :class:`Contender`.

Files of 1 KiB live ten to a directory (``/t/d00042/f7.txt``), so listing a directory
always lists ten entries whatever N is. Every 100th file holds a ``needle-NNNN`` line
for grep, and each grep checks it found exactly those files.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from sessionbox.bench._measure import Result, RssPeak, Timings, run_ops
from sessionbox.bench.contender import Contender, Unsupported

T = TypeVar("T")
KiB, MiB = 1024, 1024 * 1024
PATTERN = r"needle-[0-9]{4}"


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...] = (1_000, 10_000)
    big_files: int = 100
    stream_mib: int = 256
    tree_reps: int = 20
    grep_reps: int = 3
    list_ops: int = 1_000
    scale: tuple[int, int] = (1_000, 100_000)
    budget_s: float = 60.0
    #: Seconds of each wrk run (an HTTP row).
    http_seconds: float = 8.0


def file_path(i: int) -> str:
    return f"/t/d{i // 10:05d}/f{i % 10}.txt"


def content(i: int, version: int = 1, size: int = KiB) -> bytes:
    """Text of exactly ``size`` bytes; every 100th file carries a needle."""
    head = f"file {i} version {version}\n"
    if i % 100 == 0:
        head += f"needle-{i % 10_000:04d} is here\n"
    line = "the quick brown fox jumps over the lazy dog 0123456789 abcdefghij\n"
    body = head + line * (size // len(line) + 1)
    return body.encode()[: size - 1] + b"\n"


def _shuffled(items: Iterable[T], seed: int) -> list[T]:
    out = list(items)
    random.Random(seed).shuffle(out)
    return out


class Session:
    """Runs the workloads on one contender at one N, collecting a result for each."""

    def __init__(self, contender: Contender, n: int, plan: Plan, scratch: Path) -> None:
        self.c = contender
        self.n = n
        self.plan = plan
        self.scratch = scratch
        self.results: list[Result] = []
        self.made = 0

    def _wanted(self, workload: str) -> bool:
        return self.c.only is None or workload in self.c.only

    def measure(
        self, workload: str, items: Iterable[T], op: Callable[[T], object], n: int | None = None
    ) -> Timings | None:
        """Time one workload; an unsupported or failing one becomes an n/a or error row."""
        if not self._wanted(workload):
            return None
        result = Result(workload, self.c.name, self.n if n is None else n)
        result.note = getattr(self.c, "notes", {}).get(workload, "")
        try:
            timings = run_ops(items, op, budget_s=self.plan.budget_s)
        except Unsupported as exc:
            result.status, result.note = "n/a", str(exc)
        except Exception as exc:  # a contender's failure is a result, not the end of the run
            result.status, result.note = "error", f"{type(exc).__name__}: {exc}"[:300]
        else:
            self.results.append(timings.fill(result))
            return timings
        self.results.append(result)
        return None

    def run_sized(self) -> None:
        """The 1 KiB workloads, whose cost depends on N."""
        n, c = self.n, self.c
        if self._wanted("create"):
            timings = self.measure("create", range(n), lambda i: c.create(file_path(i), content(i)))
            self.made = len(timings.samples) if timings else 0
        else:
            self.made = n
        made = range(self.made)
        self.measure("read", _shuffled(made, 1), lambda i: c.read(file_path(i)))
        self.measure("stat", _shuffled(made, 2), lambda i: c.stat(file_path(i)))
        dirs = [f"/t/d{d:05d}" for d in range(self.made // 10)]
        listing = list(itertools.islice(itertools.cycle(_shuffled(dirs, 3)), self.plan.list_ops))
        self.measure("list 10-entry dir", listing, c.list)
        self.measure(
            "overwrite If-Match",
            _shuffled(made, 4),
            lambda i: c.overwrite(file_path(i), content(i, 2)),
        )
        expected = len(range(0, self.made, 100))
        if self.measure("grep", range(self.plan.grep_reps), lambda _: self._grep(expected)):
            self.results[-1].files = self.made

    def _grep(self, expected: int) -> None:
        found = self.c.grep(PATTERN)
        if found != expected:
            raise RuntimeError(f"grep found {found} files, expected {expected}")

    def run_trees(self) -> None:
        """Move, copy and recursively delete a 100-file directory."""
        c, reps = self.c, self.plan.tree_reps
        if not self._wanted("move 100-file dir"):
            return
        try:
            for i in range(100):
                c.create(f"/m/a/f{i:03d}.txt", content(i))
        except Unsupported as exc:
            self.results.append(Result("move 100-file dir", c.name, 0, status="n/a", note=str(exc)))
            return
        names = ["/m/a", "/m/b"]
        self.measure(
            "move 100-file dir", range(reps), lambda j: c.move(names[j % 2], names[1 - j % 2]), 0
        )
        home = names[reps % 2]
        copied = self.measure(
            "copy 100-file dir", range(reps), lambda j: c.copy(home, f"/c/k{j}"), 0
        )
        made = len(copied.samples) if copied else 0
        for j in range(made, reps):  # no directory copy: build the trees to delete by hand
            for i in range(100):
                c.create(f"/c/k{j}/f{i:03d}.txt", content(i))
        self.measure("delete 100-file dir", range(reps), lambda j: c.delete_tree(f"/c/k{j}"), 0)

    def run_large(self) -> None:
        """100 files of 1 MiB, then one large file streamed in and out."""
        c, count = self.c, self.plan.big_files
        big = content(0, size=MiB)
        timings = self.measure(
            "write 1 MiB", range(count), lambda j: c.create(f"/big/f{j}", big), 0
        )
        written = len(timings.samples) if timings else 0
        if written:
            self.measure("read 1 MiB", range(written), lambda j: c.read(f"/big/f{j}"), 0)
        elif self._wanted("read 1 MiB"):  # a row of 0 reads would pass for a result
            write = next((r for r in self.results if r.workload == "write 1 MiB"), None)
            why = f"{write.status}: {write.note}" if write else "not run for this contender"
            note = f"no 1 MiB file to read (the write was {why})"
            self.results.append(Result("read 1 MiB", c.name, 0, status="n/a", note=note))
        for result in self.results[-2:]:
            if result.workload.endswith("1 MiB"):
                result.bytes = result.ops * MiB
        self._stream()

    def _stream(self) -> None:
        if not self._wanted("stream in"):
            return
        size = self.plan.stream_mib * MiB
        source = self.scratch / "stream.src"
        if not source.exists() or source.stat().st_size != size:
            block = os.urandom(MiB)
            with source.open("wb") as out:
                for _ in range(self.plan.stream_mib):
                    out.write(block)
        sink = self.scratch / "stream.out"
        steps: list[tuple[str, Callable[[int], None]]] = [
            ("stream in", lambda _: self.c.stream_in("/stream.bin", source)),
            ("stream out", lambda _: self.c.stream_out("/stream.bin", sink)),
        ]
        for name, step in steps:
            with RssPeak(self.c.server_pid) as peak:
                timings = self.measure(name, [0], step, 0)
            if timings:
                result = self.results[-1]
                result.bytes = size
                result.rss_growth_mib = round(peak.growth_mib, 1)
                result.note = f"{self.plan.stream_mib} MiB" + (
                    ", server RSS" if self.c.server_pid else ", this process's RSS"
                )
            else:
                break
        if sink.exists() and sink.stat().st_size != size:
            self.results[-1].status, self.results[-1].note = "error", "streamed bytes differ"
        sink.unlink(missing_ok=True)

"""Rich progress bars for ``sessionbox export`` / ``import`` (issue 9, item 6).

Export counts the bytes of the files it writes (their sizes are known up
front); import counts the bytes of the archive it reads (its size on disk),
then shows a spinner while the one import transaction commits. Everything goes
to stderr and disappears when done, so scripted use sees the same output.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from sessionbox.services._archive import OutItem


def bar(console: Console, *, enabled: bool = True, transient: bool = True) -> Progress:
    """A byte progress bar; disabled when asked or when stderr is not a terminal."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=transient,
        disable=not (enabled and console.is_terminal),
    )


def counted_items(items: list[OutItem], progress: Progress, description: str) -> list[OutItem]:
    """The export items, each file's chunks advancing one task by their length."""
    total = sum(item.size for item in items if not item.is_dir)
    task = progress.add_task(description, total=total)

    def counting(chunks: Callable[[], Iterable[bytes]]) -> Callable[[], Iterator[bytes]]:
        def run() -> Iterator[bytes]:
            for chunk in chunks():
                progress.advance(task, len(chunk))
                yield chunk

        return run

    return [
        item if item.chunks is None else dataclasses.replace(item, chunks=counting(item.chunks))
        for item in items
    ]


class CountedReader(io.RawIOBase):
    """A binary file whose reads advance a progress task (the archive an import reads)."""

    def __init__(self, source: BinaryIO, progress: Progress, task: TaskID) -> None:
        self._source = source
        self._progress = progress
        self._task = task

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        buffer[: len(data)] = data
        self._progress.advance(self._task, len(data))
        return len(data)

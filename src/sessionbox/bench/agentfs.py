"""AgentFS (PyPI ``agentfs-sdk``), on the operations it has.

Its API is async (over pyturso); one event loop per contender runs each call, which
adds a few microseconds to calls that take milliseconds. It has no conditional write
(its ``overwrite`` row is an unconditional ``write_file``), no directory copy, no
grep and no streaming, so those rows say ``n/a``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sessionbox.bench.contender import Contender, Unsupported

T = TypeVar("T")


class AgentFs(Contender):
    name = "AgentFS"
    notes = {"overwrite": "unconditional write_file: AgentFS has no If-Match"}

    def __init__(self) -> None:
        try:
            from agentfs_sdk import AgentFS, AgentFSOptions  # type: ignore[import-untyped]
        except ImportError as exc:
            raise Unsupported(f"agentfs-sdk is not installed: {exc}") from exc
        self._dir = Path(tempfile.mkdtemp(prefix="sb-bench-agentfs-"))
        self._loop = asyncio.Runner()
        self._agent = self._run(AgentFS.open(AgentFSOptions(path=str(self._dir / "a.db"))))
        self._fs = self._agent.fs

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro)

    def create(self, path: str, data: bytes) -> None:
        self._run(self._fs.write_file(path, data))

    def read(self, path: str) -> bytes:
        data: bytes = self._run(self._fs.read_file(path, encoding=None))
        return data

    def stat(self, path: str) -> None:
        self._run(self._fs.stat(path))

    def list(self, path: str) -> int:
        return len(self._run(self._fs.readdir(path)))

    def overwrite(self, path: str, data: bytes) -> None:
        self._run(self._fs.write_file(path, data))

    def move(self, src: str, dst: str) -> None:
        self._run(self._fs.rename(src, dst))

    def delete_tree(self, path: str) -> None:
        self._run(self._fs.rm(path, recursive=True))

    def close(self) -> None:
        try:
            self._run(self._agent.close())
        finally:
            self._loop.close()
            shutil.rmtree(self._dir, ignore_errors=True)

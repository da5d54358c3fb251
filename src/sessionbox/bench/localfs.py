"""The local filesystem (tmpfs or disk): what an agent would use without sessionbox."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sessionbox.bench.contender import Contender

_CHUNK = 1024 * 1024


class LocalFs(Contender):
    """Plain files under a temporary directory; ``grep`` is ``grep -rlE``.

    ``overwrite`` emulates If-Match with the modification time: stat, compare, write.
    """

    def __init__(self, name: str, parent: str | None) -> None:
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix="sb-bench-fs-", dir=parent))
        self._versions: dict[str, int] = {}

    def _p(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def create(self, path: str, data: bytes) -> None:
        target = self._p(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as out:
            out.write(data)
        self._versions[path] = target.stat().st_mtime_ns

    def read(self, path: str) -> bytes:
        return self._p(path).read_bytes()

    def stat(self, path: str) -> None:
        self._p(path).stat()

    def list(self, path: str) -> int:
        with os.scandir(self._p(path)) as entries:
            return sum(1 for _ in entries)

    def overwrite(self, path: str, data: bytes) -> None:
        target = self._p(path)
        if target.stat().st_mtime_ns != self._versions.get(path):
            raise RuntimeError(f"{path} changed underneath")
        with target.open("wb") as out:
            out.write(data)
        self._versions[path] = target.stat().st_mtime_ns

    def move(self, src: str, dst: str) -> None:
        self._p(dst).parent.mkdir(parents=True, exist_ok=True)
        self._p(src).rename(self._p(dst))

    def copy(self, src: str, dst: str) -> None:
        shutil.copytree(self._p(src), self._p(dst))

    def delete_tree(self, path: str) -> None:
        shutil.rmtree(self._p(path))

    def grep(self, pattern: str) -> int:
        found = subprocess.run(
            ["grep", "-rlE", pattern, "."],
            cwd=self.root,
            capture_output=True,
            check=False,
            timeout=300,
        )
        return len(found.stdout.splitlines())

    def stream_in(self, path: str, source: Path) -> None:
        target = self._p(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)

    def stream_out(self, path: str, target: Path) -> None:
        shutil.copyfile(self._p(path), target)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

"""sessionbox in-process (``sessionbox.open``) on any store URL."""

from __future__ import annotations

import builtins
import secrets
import time
from pathlib import Path

from sessionbox.bench.contender import Contender
from sessionbox.client.local import Sessionbox
from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.paths import VPath
from sessionbox.store import open_store
from sessionbox.store.base import VolumeWriter
from sessionbox.types import VolumeKey

AGENT = "bench"
_UNLIMITED = 1 << 40


def bench_settings(data_dir: Path, store_url: str) -> Settings:
    """Limits out of the way: the bench measures speed, not quota checks refusing it."""
    return Settings(
        data_dir=data_dir,
        store=store_url,
        max_file_bytes=_UNLIMITED,
        session_quota_bytes=_UNLIMITED,
        max_entries_per_session=10_000_000,
        json_read_limit_bytes=64 * 2**20,
    )


class InProcess(Contender):
    """One fresh session on the store; the store is opened (and migrated) here."""

    def __init__(self, name: str, url: str, data_dir: Path) -> None:
        self.name = name
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = bench_settings(data_dir, url)
        settings.spool_dir.mkdir(parents=True, exist_ok=True)
        self.box = Sessionbox(open_store(url, settings), settings)
        self.session_id = self.new_session()
        self.files = self.box.session(AGENT, self.session_id).files
        self._etags: dict[str, str] = {}

    def new_session(self) -> str:
        return self.box.create_session(AGENT, f"safe_named_{secrets.token_hex(8)}").id

    def create(self, path: str, data: bytes) -> None:
        self._etags[path] = self.files.write(path, data, overwrite=False).etag

    def read(self, path: str) -> bytes:
        return self.files.read(path)

    def stat(self, path: str) -> None:
        self.files.stat(path)

    def list(self, path: str) -> int:
        return len(self.files.list(path))

    def overwrite(self, path: str, data: bytes) -> None:
        self._etags[path] = self.files.write(path, data, etag=self._etags[path]).etag

    def move(self, src: str, dst: str) -> None:
        self.files.move(src, dst)

    def copy(self, src: str, dst: str) -> None:
        self.files.copy(src, dst)

    def delete_tree(self, path: str) -> None:
        self.files.delete(path, recursive=True)

    def grep(self, pattern: str) -> int:
        return len(self.files.grep(pattern, max_matches=10_000_000))

    def stream_in(self, path: str, source: Path) -> None:
        with source.open("rb") as stream:
            self.files.write_stream(path, stream)

    def stream_out(self, path: str, target: Path) -> None:
        with target.open("wb") as out:
            for piece in self.files.read_stream(path):
                out.write(piece)

    def fill(
        self,
        session_id: str,
        paths: builtins.list[str],
        data: bytes,
        *,
        budget_s: float,
        batch: int = 1000,
    ) -> int:
        """Set-up only: many files per transaction, so a 100,000-file session fills fast.

        Stops after the batch that passes the time budget; returns how many files it wrote.
        """
        volume = VolumeKey(AGENT, session_id, "files")

        def write_all(chunk: builtins.list[str]) -> None:
            def run(writer: VolumeWriter) -> None:
                for path in chunk:
                    writer.write(
                        VPath(path), Content.of(data), mode="create", content_type="text/plain"
                    )

            self.box.store.update(volume, run)

        deadline = time.monotonic() + budget_s
        done = 0
        for start in range(0, len(paths), batch):
            write_all(paths[start : start + batch])
            done = min(start + batch, len(paths))
            if time.monotonic() > deadline:
                break
        return done

    def list_in(self, session_id: str, path: str) -> int:
        return len(self.box.session(AGENT, session_id).files.list(path))

    def close(self) -> None:
        try:
            self.box.delete_session(AGENT, self.session_id)
        finally:
            self.box.close()

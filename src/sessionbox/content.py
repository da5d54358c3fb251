"""Bytes on their way into a store: hashed once, held in memory or spooled to disk.

An upload is buffered before the store's write transaction starts (a slow
client must not hold a session's write lock), hashed as it arrives (the hash
names the blob) and refused as soon as it passes the file size limit. One
``Spooler`` does this for every way bytes come in: the raw HTTP body (async),
``write_stream`` in the service and the in-process SDK (sync).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from sessionbox.errors import TooLarge

CHUNK_BYTES = 1024 * 1024
"""Content is stored and streamed in chunks of this size."""


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=32).hexdigest()


@dataclass(slots=True)
class Content:
    """Bytes to store, already hashed: in memory, or in a spooled file."""

    hash: str
    size: int
    data: bytes | None = None
    file: BinaryIO | None = field(default=None, repr=False)

    @classmethod
    def of(cls, data: bytes) -> Content:
        return cls(hash=content_hash(data), size=len(data), data=data)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def chunks(self) -> Iterator[bytes]:
        """The content in ``CHUNK_BYTES`` pieces; an empty file is one empty chunk."""
        source: BinaryIO = io.BytesIO(self.data) if self.data is not None else self.file  # type: ignore[assignment]
        source.seek(0)
        first = True
        while True:
            piece = source.read(CHUNK_BYTES)
            if not piece and not first:
                return
            first = False
            yield piece
            if len(piece) < CHUNK_BYTES:
                return


class Spooler:
    """Buffers a stream (on disk past one chunk) while hashing it, up to ``max_bytes``.

    Memory stays at one chunk whatever the size. ``spool_dir`` None is the
    system's temporary directory.
    """

    def __init__(self, *, max_bytes: int, spool_dir: Path | None) -> None:
        self._max = max_bytes
        self._hasher = hashlib.blake2b(digest_size=32)
        where = str(spool_dir) if spool_dir is not None else None
        self._buffer = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES, dir=where)  # noqa: SIM115
        self._size = 0

    def feed(self, piece: bytes) -> None:
        self._size += len(piece)
        if self._size > self._max:
            self.abort()
            raise TooLarge(f"content is over the file size limit of {self._max} bytes")
        self._hasher.update(piece)
        self._buffer.write(piece)

    def abort(self) -> None:
        self._buffer.close()

    def finish(self) -> Content:
        return Content(hash=self._hasher.hexdigest(), size=self._size, file=self._buffer)  # type: ignore[arg-type]

    def spool(self, pieces: Iterable[bytes]) -> Content:
        """All of ``pieces``, buffered and hashed; nothing is kept if they fail."""
        try:
            for piece in pieces:
                self.feed(piece)
        except BaseException:
            self.abort()
            raise
        return self.finish()

    async def spool_async(self, pieces: AsyncIterable[bytes]) -> Content:
        """``spool`` for a stream that arrives asynchronously (a request body)."""
        try:
            async for piece in pieces:
                self.feed(piece)
        except BaseException:
            self.abort()
            raise
        return self.finish()

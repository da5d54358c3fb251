"""Reading and writing the export layout as a deterministic ``.tar.gz``.

Writing: sorted names, mtime 0, uid/gid 0, no owner names, fixed modes, gzip
mtime 0 and no file name, so the same content always gives the same bytes.

Reading never extracts: each member is checked (only regular files and
directories; links, devices and FIFOs refused), and the decompressed stream is
counted as it is read, so a bomb is stopped at the byte count or the ratio,
whatever the headers claim.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sessionbox.errors import ArchiveInvalid

_RATIO_FLOOR = 1024 * 1024  # small archives may inflate freely; tar headers are mostly zeros


@dataclass(frozen=True, slots=True)
class Member:
    """One archive member: ``kind`` is "file", "dir" or what else it claimed to be."""

    name: str
    kind: str
    size: int
    mode: int
    read: Callable[[], bytes]


@dataclass(frozen=True, slots=True)
class OutItem:
    name: str
    is_dir: bool
    size: int = 0
    readonly: bool = False
    chunks: Callable[[], Iterable[bytes]] | None = None


class _Counting(io.RawIOBase):
    def __init__(self, source: BinaryIO) -> None:
        self.source = source
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.source.read(len(buffer))
        self.count += len(data)
        buffer[: len(data)] = data
        return len(data)


class _Bounded(io.RawIOBase):
    """The decompressed stream, refusing past ``max_bytes`` or ``max_ratio``."""

    def __init__(self, inner: BinaryIO, compressed: _Counting, max_bytes: int, max_ratio: int):
        self.inner = inner
        self.compressed = compressed
        self.max_bytes = max_bytes
        self.max_ratio = max_ratio
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(min(len(buffer), 256 * 1024))
        self.count += len(data)
        if self.count > self.max_bytes:
            raise ArchiveInvalid(f"the archive expands beyond {self.max_bytes} bytes")
        if self.count > _RATIO_FLOOR and self.count > self.max_ratio * max(
            self.compressed.count, 1
        ):
            raise ArchiveInvalid(
                f"the archive inflates more than {self.max_ratio} times (a compression bomb?)"
            )
        buffer[: len(data)] = data
        return len(data)


def _kind(member: tarfile.TarInfo) -> str:
    if member.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
        return "file"
    if member.type == tarfile.DIRTYPE:
        return "dir"
    if member.issym() or member.islnk():
        return "link"
    if member.ischr() or member.isblk():
        return "device"
    if member.isfifo():
        return "fifo"
    return f"type {member.type!r}"


def read_tar_gz(source: BinaryIO, *, max_bytes: int, max_ratio: int) -> Iterator[Member]:
    """The members of a gzip-compressed tar, read lazily in order.

    A member's ``read`` is valid only until the next member is taken.
    """
    counted = _Counting(source)
    unzipped = gzip.GzipFile(fileobj=io.BufferedReader(counted), mode="rb")
    bounded = io.BufferedReader(_Bounded(unzipped, counted, max_bytes, max_ratio))  # type: ignore[arg-type]
    try:
        with tarfile.open(fileobj=bounded, mode="r|", encoding="utf-8") as tar:
            for info in tar:
                kind = _kind(info)

                def read(info: tarfile.TarInfo = info) -> bytes:
                    handle = tar.extractfile(info)
                    if handle is None:
                        raise ArchiveInvalid(f"{info.name!r} has no content")
                    return handle.read()

                yield Member(info.name, kind, info.size, info.mode, read)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise ArchiveInvalid(f"not a readable .tar.gz: {exc}") from None
    except OSError as exc:  # truncated or corrupt gzip
        raise ArchiveInvalid(f"not a readable .tar.gz: {exc}") from None


class _ChunkReader(io.RawIOBase):
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class _Sink(io.RawIOBase):
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.parts.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def write_tar_gz(items: Iterable[OutItem]) -> Iterator[bytes]:
    """Stream the items (already in name order) as a deterministic .tar.gz."""
    sink = _Sink()
    zipped = gzip.GzipFile(fileobj=sink, mode="wb", mtime=0, filename="", compresslevel=6)
    tar = tarfile.open(fileobj=zipped, mode="w|", format=tarfile.PAX_FORMAT, encoding="utf-8")  # noqa: SIM115 - closed below, between yields
    for item in items:
        info = tarfile.TarInfo(item.name)
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if item.is_dir:
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tar.addfile(info)
        else:
            info.size = item.size
            info.mode = 0o444 if item.readonly else 0o644
            chunks = item.chunks() if item.chunks is not None else [b""]
            tar.addfile(info, io.BufferedReader(_ChunkReader(chunks)))
        data = sink.drain()
        if data:
            yield data
    tar.close()
    zipped.close()
    yield sink.drain()

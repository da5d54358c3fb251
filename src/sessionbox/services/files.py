"""The filesystem service: validated operations on a session's ``files`` volume.

Each method is one store transaction (one hop), so the API and the
in-process library share it and pay for one round trip per call.
"""

from __future__ import annotations

import builtins
import codecs
import functools
import mimetypes
from collections.abc import Iterable, Iterator
from typing import Any

from sessionbox import paths, ranges
from sessionbox.config import Settings
from sessionbox.content import Content, Spooler
from sessionbox.errors import (
    RangeNotSatisfiable,
)
from sessionbox.ids import parse_session_id, validate_agent_id
from sessionbox.paths import ROOT, VPath
from sessionbox.services import grep as greplib
from sessionbox.services._paging import Page, clamp_limit, decode_cursor, encode_cursor
from sessionbox.store.base import Reader, Store
from sessionbox.types import Entry, VolumeKey, VolumeKind, WriteMode

DEFAULT_PAGE = 1000
DEFAULT_MAX_MATCHES = 1000


# Source files that mimetypes gets wrong or does not know (.rs is "rls-services+xml").
_TEXT_TYPES = {
    ".rs": "text/x-rust",
    ".py": "text/x-python",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".go": "text/x-go",
    ".md": "text/markdown",
    ".toml": "application/toml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".sh": "text/x-shellscript",
    ".sql": "application/sql",
    ".csv": "text/csv",
    ".jsonl": "application/jsonl",
    ".log": "text/plain",
}


def _looks_textual(head: bytes) -> bool:
    """No NUL and valid UTF-8, tolerating a character cut at the end of ``head``."""
    if b"\x00" in head:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


@functools.lru_cache(maxsize=512)
def _type_of_suffix(suffix: str) -> str | None:
    return _TEXT_TYPES.get("." + suffix) or mimetypes.guess_type("x." + suffix, strict=False)[0]


def guess_type(path: str, content: Content) -> str:
    """By extension; an unknown one is text/plain if the content is UTF-8 text."""
    name = paths.name(VPath(path))
    known = _type_of_suffix(name.rsplit(".", 1)[1].lower()) if "." in name else None
    if known:
        return known
    if content.data is not None and _looks_textual(content.data[:8192]):
        return "text/plain"
    return "application/octet-stream"


@functools.lru_cache(maxsize=1024)
def _volume_key(agent_id: str, session_id: str, kind: VolumeKind) -> VolumeKey:
    """Validated once per (agent, session): ids are immutable, and a bad one is never cached."""
    validate_agent_id(agent_id)
    return VolumeKey(agent_id, str(parse_session_id(session_id)), kind)


class FileService:
    def __init__(self, store: Store, settings: Settings, kind: VolumeKind = "files") -> None:
        self.store = store
        self.settings = settings
        self.kind = kind

    def volume(self, agent_id: str, session_id: str) -> VolumeKey:
        if type(agent_id) is str and type(session_id) is str:
            return _volume_key(agent_id, session_id, self.kind)
        validate_agent_id(agent_id)
        return VolumeKey(agent_id, str(parse_session_id(session_id)), self.kind)

    def stat(self, agent_id: str, session_id: str, path: str) -> Entry:
        return self.store.stat(self.volume(agent_id, session_id), paths.validate(path))

    def list(
        self,
        agent_id: str,
        session_id: str,
        path: str = "/",
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Entry]:
        vpath = paths.validate(path)
        size = clamp_limit(limit, DEFAULT_PAGE, self.settings.list_page_max)
        after = decode_cursor(cursor)
        items = self.store.list_dir(
            self.volume(agent_id, session_id), vpath, limit=size, after=after
        )
        more = len(items) == size
        return Page(items, encode_cursor(items[-1].name) if more else None)

    def read(
        self, agent_id: str, session_id: str, path: str, *, max_bytes: int | None = None
    ) -> tuple[Entry, bytes]:
        """A whole file in memory; ``TooLarge`` past ``max_bytes`` (default: the file limit)."""
        vpath = paths.validate(path)
        limit = self.settings.max_file_bytes if max_bytes is None else max_bytes
        return self.store.read_file(self.volume(agent_id, session_id), vpath, max_bytes=limit)

    def read_bytes(self, agent_id: str, session_id: str, path: str) -> bytes:
        """``read`` without the entry: the library's ``Files.read`` wants only the bytes."""
        vpath = paths.validate(path)
        volume = self.volume(agent_id, session_id)
        return self.store.read_bytes(volume, vpath, max_bytes=self.settings.max_file_bytes)

    def read_or_list(
        self,
        agent_id: str,
        session_id: str,
        path: str,
        *,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> tuple[Entry, bytes] | Page[Entry]:
        """What ``GET /fs/{path}`` answers: a file with its bytes, or a directory page."""
        if path == ROOT:  # always a directory: no read to try first
            return self.list(agent_id, session_id, path, limit=limit, cursor=cursor)
        try:
            return self.read(
                agent_id, session_id, path, max_bytes=self.settings.json_read_limit_bytes
            )
        except IsADirectoryError:
            return self.list(agent_id, session_id, path, limit=limit, cursor=cursor)

    def read_stream(
        self, agent_id: str, session_id: str, path: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """A file's bytes ``[start, end)`` as a lazy stream (the rules: ``sessionbox.ranges``);
        no range is the whole file. The range's shape is checked before the file is
        opened, as the HTTP SDK checks it before sending."""
        whole = ranges.is_whole(start, end)
        if not whole:
            ranges.check_shape(start, end)
        entry, reader = self.open_file(agent_id, session_id, path)
        try:
            lo, hi = (
                (0, entry.size_bytes) if whole else ranges.resolve(entry.size_bytes, start, end)
            )
        except RangeNotSatisfiable:
            del reader  # a held file closes now, not when the caller drops the exception
            raise
        return reader(lo, hi)

    def open_file(self, agent_id: str, session_id: str, path: str) -> tuple[Entry, Reader]:
        """A file's entry and a reader of bytes ``[start, end)`` of that very version, even
        when the file is overwritten meanwhile (a raw read's headers and body agree)."""
        return self.store.open_file(self.volume(agent_id, session_id), paths.validate(path))

    def write(
        self,
        agent_id: str,
        session_id: str,
        path: str,
        content: Content,
        *,
        mode: WriteMode = "upsert",
        if_match: str | None = None,
        readonly: bool | None = None,
        content_type: str | None = None,
        meta: dict[str, Any] | None = None,
    ) -> tuple[Entry, bool]:
        vpath = paths.validate_writable(path)
        kind = content_type or guess_type(vpath, content)
        try:
            if mode == "create" and if_match is None:
                entry = self.store.create_file(
                    self.volume(agent_id, session_id),
                    vpath,
                    content,
                    readonly=bool(readonly),
                    content_type=kind,
                    meta=meta,
                )
                return entry, True
            return self.store.update(
                self.volume(agent_id, session_id),
                lambda v: v.write(
                    vpath,
                    content,
                    mode=mode,
                    if_match=if_match,
                    readonly=readonly,
                    content_type=kind,
                    meta=meta,
                ),
            )
        finally:
            content.close()

    def write_stream(
        self,
        agent_id: str,
        session_id: str,
        path: str,
        pieces: Iterable[bytes],
        **kwargs: Any,
    ) -> tuple[Entry, bool]:
        paths.validate_writable(path)
        self.volume(agent_id, session_id)
        content = self.spooler().spool(pieces)
        return self.write(agent_id, session_id, path, content, **kwargs)

    def spooler(self) -> Spooler:
        """Buffers an upload under the file size limit, in the spool directory if it exists."""
        spool_dir = self.settings.spool_dir
        return Spooler(
            max_bytes=self.settings.max_file_bytes,
            spool_dir=spool_dir if spool_dir.exists() else None,
        )

    def mkdir(self, agent_id: str, session_id: str, path: str, *, exist_ok: bool = False) -> Entry:
        vpath = paths.validate_writable(path)
        return self.store.update(
            self.volume(agent_id, session_id), lambda v: v.mkdir(vpath, exist_ok=exist_ok)
        )

    def set_readonly(
        self,
        agent_id: str,
        session_id: str,
        path: str,
        readonly: bool,
        *,
        if_match: str | None = None,
    ) -> Entry:
        vpath = paths.validate_writable(path)
        return self.store.update(
            self.volume(agent_id, session_id),
            lambda v: v.set_attrs(vpath, readonly=readonly, if_match=if_match),
        )

    def delete(
        self,
        agent_id: str,
        session_id: str,
        path: str,
        *,
        recursive: bool = False,
        if_match: str | None = None,
    ) -> int:
        vpath = paths.validate(path)  # the root too: it empties the volume
        return self.store.update(
            self.volume(agent_id, session_id),
            lambda v: v.delete(vpath, recursive=recursive, if_match=if_match),
        )

    def move(
        self,
        agent_id: str,
        session_id: str,
        src: str,
        dst: str,
        *,
        overwrite: bool = False,
        if_match: str | None = None,
    ) -> Entry:
        source, target = paths.validate_writable(src), paths.validate_writable(dst)
        return self.store.update(
            self.volume(agent_id, session_id),
            lambda v: v.move(source, target, overwrite=overwrite, if_match=if_match),
        )

    def copy(
        self,
        agent_id: str,
        session_id: str,
        src: str,
        dst: str,
        *,
        overwrite: bool = False,
    ) -> Entry:
        source, target = paths.validate(src), paths.validate_writable(dst)
        return self.store.update(
            self.volume(agent_id, session_id),
            lambda v: v.copy(source, target, overwrite=overwrite),
        )

    def grep(
        self,
        agent_id: str,
        session_id: str,
        pattern: str,
        *,
        path: str = "/",
        path_pattern: str | None = None,
        max_matches: int | None = None,
    ) -> builtins.list[greplib.GrepFile]:
        regex = greplib.compile_pattern(pattern)
        root = paths.validate(path)
        wanted = greplib.PathFilter(path_pattern, root)
        budget = clamp_limit(max_matches, DEFAULT_MAX_MATCHES, 100_000)
        return self.store.view(
            self.volume(agent_id, session_id),
            lambda v: greplib.grep(v.walk(root, with_content=True), regex, wanted, budget),
        )

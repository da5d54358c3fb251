"""``sessionbox://agent/session/path`` for fsspec, pandas, dask and friends.

    pandas.read_csv("sessionbox://my-agent/<session>/data.csv",
                    storage_options={"url": "http://127.0.0.1:8787", "token": "..."})

``url`` (+ ``token``) talks to a server through ``sessionbox.Client``; ``store``
opens a store URL in-process; ``client`` takes an SDK object you already have.
The first two levels are the agent and the session: ``ls("agent")`` lists
sessions, and ``mkdir("agent/<session id>")`` creates one. Registered through
the ``fsspec.specs`` entry point (install ``sessionbox[fsspec]``).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from typing import Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from sessionbox.content import CHUNK_BYTES
from sessionbox.errors import Exists, IsADirectory, NotFound
from sessionbox.types import Entry


def _split(path: str) -> tuple[str, str, str]:
    """``agent/session/a/b`` → (agent, session, "/a/b"); missing parts are ""."""
    parts = path.strip("/").split("/", 2)
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], "/" + parts[2]


class SessionboxFileSystem(AbstractFileSystem):  # type: ignore[misc]
    protocol = "sessionbox"
    root_marker = ""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        store: str | None = None,
        client: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._owned = client is None
        if client is not None:
            self.sdk = client
        elif url is not None:
            from sessionbox.client.blocking import Client

            self.sdk = Client(url, token=token)
        else:
            from sessionbox.client.local import open as open_local

            self.sdk = open_local(store)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = str(path)
        if path.startswith("sessionbox://"):
            path = path[len("sessionbox://") :]
        return path.strip("/")

    def _files(self, path: str) -> tuple[Any, str]:
        agent, session, vpath = _split(self._strip_protocol(path))
        if not agent or not session:
            raise IsADirectory(f"{path!r} names an agent, not a file in a session")
        return self.sdk.session(agent, session).files, vpath

    def _info(self, prefix: str, entry: Entry) -> dict[str, Any]:
        return {
            "name": f"{prefix}{entry.path}" if entry.path != "/" else prefix,
            "size": 0 if entry.is_directory else entry.size_bytes,
            "type": "directory" if entry.is_directory else "file",
            "etag": entry.etag,
            "readonly": entry.is_readonly,
            "content_type": entry.content_type,
            "created": entry.created_at,
            "mtime": entry.updated_at,
        }

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        agent, session, vpath = _split(self._strip_protocol(path))
        if not agent:
            raise NotFound("list an agent (sessionbox://<agent>) or a session below it")
        if not session:
            found = [
                {"name": f"{agent}/{s.id}", "size": 0, "type": "directory"}
                for s in self.sdk.list_sessions(agent)
            ]
        else:
            files = self.sdk.session(agent, session).files
            info = files.stat(vpath)
            entries = files.list(vpath) if info.is_directory else [info]
            found = [self._info(f"{agent}/{session}", e) for e in entries]
        return found if detail else [f["name"] for f in found]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        agent, session, vpath = _split(self._strip_protocol(path))
        if not agent:
            return {"name": "", "size": 0, "type": "directory"}
        if not session:
            return {"name": agent, "size": 0, "type": "directory"}
        entry = self.sdk.session(agent, session).files.stat(vpath)
        return self._info(f"{agent}/{session}", entry)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        files, vpath = self._files(path)
        if start is None and end is None:
            return bytes(files.read(vpath))
        size = files.stat(vpath).size_bytes
        lo = 0 if start is None else (start if start >= 0 else max(size + start, 0))
        hi = size if end is None else (end if end >= 0 else max(size + end, 0))
        hi = min(hi, size)
        if lo >= hi:
            return b""
        return b"".join(files.read_stream(vpath, lo, hi))

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        files, vpath = self._files(path)
        files.write(vpath, value, overwrite=mode != "create")

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        agent, session, vpath = _split(self._strip_protocol(path))
        if not session:
            raise Exists(f"{agent!r} is an agent; make a session below it")
        if vpath == "/":
            self.sdk.create_session(agent, session)
            return
        files = self.sdk.session(agent, session).files
        if not create_parents and not files.exists(vpath.rsplit("/", 1)[0] or "/"):
            raise NotFound(f"no parent directory for {path}")
        files.mkdir(vpath)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        agent, session, vpath = _split(self._strip_protocol(path))
        if vpath == "/":
            if not exist_ok or not self.exists(path):
                self.mkdir(path)
            return
        files, vpath = self._files(path)
        files.mkdir(vpath, exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        files, vpath = self._files(path)
        if not files.stat(vpath).is_directory:
            raise NotADirectoryError(path)
        files.delete(vpath)

    def rm_file(self, path: str) -> None:
        files, vpath = self._files(path)
        files.delete(vpath)

    def rm(
        self, path: Any, recursive: bool = False, maxdepth: int | None = None, **kwargs: Any
    ) -> None:
        """Whole trees go in one call (one transaction), not file by file."""
        if isinstance(path, str) and recursive and maxdepth is None and not self._glob(path):
            agent, session, vpath = _split(self._strip_protocol(path))
            if vpath == "/" and session:
                self.sdk.delete_session(agent, session)
                return
            files, vpath = self._files(path)
            files.delete(vpath, recursive=True)
            return
        super().rm(path, recursive=recursive, maxdepth=maxdepth)

    def _rm(self, path: str) -> None:
        files, vpath = self._files(path)
        if vpath != "/":
            files.delete(vpath, recursive=True)

    @staticmethod
    def _glob(path: str) -> bool:
        return any(char in path for char in "*?[")

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Within one session a copy shares content; across sessions it streams."""
        a1, s1, v1 = _split(self._strip_protocol(path1))
        a2, s2, v2 = _split(self._strip_protocol(path2))
        source, _ = self._files(path1)
        if (a1, s1) == (a2, s2):
            if source.stat(v1).is_directory:
                self.makedirs(path2, exist_ok=True)
                return
            source.copy(v1, v2, overwrite=True)
            return
        target, _ = self._files(path2)
        with tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES) as spool:
            for piece in source.read_stream(v1):
                spool.write(piece)
            spool.seek(0)
            target.write_stream(v2, spool)

    def mv(self, path1: str, path2: str, recursive: bool = False, **kwargs: Any) -> None:
        a1, s1, v1 = _split(self._strip_protocol(path1))
        a2, s2, v2 = _split(self._strip_protocol(path2))
        if (a1, s1) == (a2, s2) and isinstance(path1, str) and not self._glob(path1):
            self.sdk.session(a1, s1).files.move(v1, v2, overwrite=True)
            return
        super().mv(path1, path2, recursive=recursive, **kwargs)

    def created(self, path: str) -> datetime:
        return self.info(path)["created"]  # type: ignore[no-any-return]

    def modified(self, path: str) -> datetime:
        return self.info(path)["mtime"]  # type: ignore[no-any-return]

    def ukey(self, path: str) -> str:
        return str(self.info(path)["etag"])

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SessionboxFile:
        if mode == "xb" and self.exists(path):
            raise FileExistsError(path)
        return SessionboxFile(
            self,
            path,
            mode=mode,
            block_size=block_size or CHUNK_BYTES,
            autocommit=autocommit,
            cache_options=cache_options,
            **kwargs,
        )


class SessionboxFile(AbstractBufferedFile):  # type: ignore[misc]
    """Reads fetch byte ranges; writes spool locally and upload once on close."""

    fs: SessionboxFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        files, vpath = self.fs._files(self.path)
        if start >= end:
            return b""
        return b"".join(files.read_stream(vpath, start, end))

    def _initiate_upload(self) -> None:
        self._spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES)  # noqa: SIM115

    def _upload_chunk(self, final: bool = False) -> bool:
        self._spool.write(self.buffer.getvalue())
        if final:
            files, vpath = self.fs._files(self.path)
            self._spool.seek(0)
            try:
                if self.mode == "xb" and files.exists(vpath):
                    raise FileExistsError(self.path)
                files.write_stream(vpath, self._spool)
            finally:
                self._spool.close()
        return True

"""A WsgiDAV provider: one session mounted as a network drive.

``sessionbox webdav --agent A --session S`` serves it (install
``sessionbox[webdav]``). The provider calls the SDK API, so the session can be
in-process or on a server, whose token rules then apply. Moves, copies and
deletes of whole trees are single SDK calls (one transaction each); a readonly
file answers 403 to PUT, and ``read_only=True`` makes the whole mount read-only.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider
from wsgidav.wsgidav_app import WsgiDAVApp

from sessionbox.content import CHUNK_BYTES
from sessionbox.errors import NotFound, ReadOnly, SessionboxError
from sessionbox.types import Entry


@contextmanager
def _dav_errors() -> Iterator[None]:
    """The one place sessionbox errors become WebDAV statuses."""
    try:
        yield
    except ReadOnly as exc:
        raise DAVError(HTTP_FORBIDDEN, exc.detail) from None
    except SessionboxError as exc:
        raise DAVError(exc.status, exc.detail) from None


class _Upload:
    """What WsgiDAV writes a PUT body into: spooled, uploaded by ``end_write``."""

    def __init__(self) -> None:
        self.spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES)  # noqa: SIM115

    def write(self, data: bytes) -> int:
        return self.spool.write(data)

    def close(self) -> None:
        """The body is complete; the spool stays open until it is uploaded."""


class _Stream:
    """A file-like view of ``read_stream`` for GET."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece
        if size < 0:
            size = len(self._buffer)
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()


def _vpath(path: str) -> str:
    return "/" + path.strip("/")


class _Common:
    provider: SessionProvider
    path: str
    entry: Entry

    @property
    def files(self) -> Any:
        return self.provider.files

    def get_creation_date(self) -> float:
        return self.entry.created_at.timestamp()

    def get_last_modified(self) -> float:
        return self.entry.updated_at.timestamp()

    def get_etag(self) -> str:
        return self.entry.etag.strip('"')

    def support_etag(self) -> bool:
        return True

    def delete(self) -> None:
        with _dav_errors():
            self.files.remove(_vpath(self.path), recursive=True)

    def handle_delete(self) -> bool:
        self.delete()
        return True

    def support_recursive_delete(self) -> bool:
        return True

    def handle_move(self, dest_path: str) -> bool:
        with _dav_errors():
            self.files.rename(_vpath(self.path), _vpath(dest_path), overwrite=True)
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        if not depth_infinity and self.entry.is_directory:
            return False
        with _dav_errors():
            self.files.copy(_vpath(self.path), _vpath(dest_path), overwrite=True)
        return True

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        with _dav_errors():
            if self.entry.is_directory:
                self.files.make_dir(_vpath(dest_path), exist_ok=True)
            elif is_move:
                self.files.rename(_vpath(self.path), _vpath(dest_path), overwrite=True)
            else:
                self.files.copy(_vpath(self.path), _vpath(dest_path), overwrite=True)


class SessionFile(_Common, DAVNonCollection):  # type: ignore[misc]
    def __init__(self, provider: SessionProvider, path: str, environ: dict[str, Any], entry: Entry):
        super().__init__(path, environ)
        self.provider = provider
        self.entry = entry
        self._upload: _Upload | None = None

    def get_content_length(self) -> int:
        return self.entry.size_bytes

    def get_content_type(self) -> str:
        return self.entry.content_type or "application/octet-stream"

    def support_ranges(self) -> bool:
        return False

    def get_content(self) -> IO[bytes]:
        with _dav_errors():
            return _Stream(iter(self.files.read_stream(_vpath(self.path))))  # type: ignore[return-value]

    def begin_write(self, *, content_type: str | None = None) -> _Upload:
        if self.entry.is_readonly:
            raise DAVError(HTTP_FORBIDDEN, f"{self.path} is read-only")
        self._upload = _Upload()
        return self._upload

    def end_write(self, *, with_errors: bool) -> None:
        upload, self._upload = self._upload, None
        if upload is None:
            return
        try:
            if not with_errors:
                upload.spool.seek(0)
                with _dav_errors():
                    self.entry = self.files.write_stream(_vpath(self.path), upload.spool)
        finally:
            upload.spool.close()


class SessionDirectory(_Common, DAVCollection):  # type: ignore[misc]
    def __init__(self, provider: SessionProvider, path: str, environ: dict[str, Any], entry: Entry):
        super().__init__(path, environ)
        self.provider = provider
        self.entry = entry

    def get_member_names(self) -> list[str]:
        with _dav_errors():
            return [e.name for e in self.files.list(_vpath(self.path))]

    def get_member(self, name: str) -> Any:
        return self.provider.get_resource_inst(self.path.rstrip("/") + "/" + name, self.environ)

    def create_empty_resource(self, name: str) -> SessionFile:
        path = self.path.rstrip("/") + "/" + name
        with _dav_errors():
            entry = self.files.write(_vpath(path), b"")
        return SessionFile(self.provider, path, self.environ, entry)

    def create_collection(self, name: str) -> None:
        with _dav_errors():
            self.files.make_dir(_vpath(self.path.rstrip("/") + "/" + name))

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> None:
        self.handle_move(dest_path)

    def delete(self) -> None:
        with _dav_errors():
            self.files.remove(_vpath(self.path), recursive=True)


class SessionProvider(DAVProvider):  # type: ignore[misc]
    """Resolves WebDAV paths to a session's entries through the SDK ``files`` object."""

    def __init__(self, files: Any, *, read_only: bool = False) -> None:
        super().__init__()
        self.files = files
        self.read_only = read_only

    def is_readonly(self) -> bool:
        return self.read_only

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        try:
            entry = self.files.get_info(_vpath(path))
        except NotFound:
            return None
        except SessionboxError as exc:
            raise DAVError(exc.status, exc.detail) from None
        cls = SessionDirectory if entry.is_directory else SessionFile
        return cls(self, path, environ, entry)


def make_app(files: Any, *, read_only: bool = False) -> WsgiDAVApp:
    """A WSGI app serving ``files`` at ``/``, anonymous (bind it to loopback)."""
    config = {
        "provider_mapping": {"/": SessionProvider(files, read_only=read_only)},
        "simple_dc": {"user_mapping": {"*": True}},
        "http_authenticator": {"accept_basic": False, "accept_digest": False},
        "lock_storage": True,
        "property_manager": True,
        "verbose": 1,
        "logging": {"enable": False, "enable_loggers": []},
        "dir_browser": {"enable": True},
    }
    return WsgiDAVApp(config)

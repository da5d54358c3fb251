"""A WsgiDAV provider: one session mounted as a network drive.

``sessionbox webdav --agent A --session S`` serves it (install
``sessionbox[webdav]``). The provider calls the SDK API, so the session can be
in-process or on a server, whose token rules then apply. Moves, copies and
deletes of whole trees are single SDK calls (one transaction each). WsgiDAV
parses the protocol and keeps the locks; this module keeps what it cannot know:

- a DELETE, MOVE or COPY done in one call still honours every lock of the tree;
- dead properties (``PROPPATCH``) follow their resource through MOVE and COPY
  and go with it on DELETE (``DeadProperties``, in memory: they last as long
  as the mount, like its locks);
- COPY and MOVE to a new resource answer 201, as RFC 4918 says (WsgiDAV answers
  204 to every COPY or MOVE a provider does itself; ``_created_is_201``);
- GET serves byte ranges, read from the store as ranges;
- a read-only mount (or a readonly file) refuses every change with 403.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import unquote

from wsgidav import util
from wsgidav.dav_error import HTTP_FORBIDDEN, DAVError
from wsgidav.dav_provider import DAVCollection, DAVNonCollection, DAVProvider
from wsgidav.wsgidav_app import WsgiDAVApp

from sessionbox.content import CHUNK_BYTES
from sessionbox.errors import NotFound, ReadOnly, SessionboxError
from sessionbox.types import Entry

_CREATED = "sessionbox.dav.created"


@contextmanager
def _dav_errors() -> Iterator[None]:
    """The one place sessionbox errors become WebDAV statuses."""
    try:
        yield
    except ReadOnly as exc:
        raise DAVError(HTTP_FORBIDDEN, exc.detail) from None
    except SessionboxError as exc:
        raise DAVError(exc.status, exc.detail) from None


def _vpath(path: str) -> str:
    return "/" + path.strip("/")


def _key(url: str) -> str:
    """A ref URL (quoted, collections with a trailing slash) as a session path."""
    return _vpath(unquote(url))


def _in_tree(root: str, path: str) -> bool:
    return root == "/" or path == root or path.startswith(root + "/")


class DeadProperties:
    """WsgiDAV's property-manager interface, keyed by session path, able to move,
    copy and drop whole trees (WsgiDAV's own moves one URL or a tree, copies one)."""

    def __init__(self) -> None:
        self._props: dict[str, dict[str, bytes]] = {}
        self._lock = threading.Lock()

    def get_properties(self, norm_url: str, environ: Any = None) -> list[str]:
        with self._lock:
            return list(self._props.get(_key(norm_url), ()))

    def get_property(self, norm_url: str, name: str, environ: Any = None) -> bytes | None:
        with self._lock:
            return self._props.get(_key(norm_url), {}).get(name)

    def write_property(
        self, norm_url: str, name: str, value: bytes, dry_run: bool = False, environ: Any = None
    ) -> None:
        if not dry_run:
            with self._lock:
                self._props.setdefault(_key(norm_url), {})[name] = value

    def remove_property(
        self, norm_url: str, name: str, dry_run: bool = False, environ: Any = None
    ) -> None:
        if not dry_run:
            with self._lock:
                self._props.get(_key(norm_url), {}).pop(name, None)

    def remove_properties(self, norm_url: str, environ: Any = None) -> None:
        self.drop_tree(_key(norm_url))

    def copy_properties(self, src_url: str, dest_url: str, environ: Any = None) -> None:
        """One resource's (a Depth: 0 COPY of a collection)."""
        with self._lock:
            props = dict(self._props.get(_key(src_url), {}))
            self._props[_key(dest_url)] = props

    def move_properties(
        self, src_url: str, dest_url: str, with_children: bool, environ: Any = None
    ) -> None:
        self.move_tree(_key(src_url), _key(dest_url))

    def drop_tree(self, root: str) -> None:
        with self._lock:
            for path in [p for p in self._props if _in_tree(root, p)]:
                del self._props[path]

    def copy_tree(self, src: str, dest: str) -> None:
        with self._lock:
            self._replace_tree(src, dest, move=False)

    def move_tree(self, src: str, dest: str) -> None:
        with self._lock:
            self._replace_tree(src, dest, move=True)

    def _replace_tree(self, src: str, dest: str, *, move: bool) -> None:
        """The destination tree's properties become the source tree's (a COPY or MOVE
        replaces what was there)."""
        for path in [p for p in self._props if _in_tree(dest, p)]:
            del self._props[path]
        for path in [p for p in self._props if _in_tree(src, p)]:
            props = self._props.pop(path) if move else dict(self._props[path])
            self._props[dest + path[len(src) :] if path != src else dest] = props


class _Upload:
    """What WsgiDAV writes a PUT body into: spooled, uploaded by ``end_write``."""

    def __init__(self) -> None:
        self.spool = tempfile.SpooledTemporaryFile(max_size=CHUNK_BYTES)  # noqa: SIM115

    def write(self, data: bytes) -> int:
        return self.spool.write(data)

    def close(self) -> None:
        """The body is complete; the spool stays open until it is uploaded."""


class _Content:
    """A file-like view of a file for GET: WsgiDAV seeks to a range's start, then reads
    the range's length; the read opens the store's stream there, so a range reads only
    the chunks it needs."""

    def __init__(self, open_at: Callable[[int], Iterable[bytes]]) -> None:
        self._open_at = open_at
        self._start = 0
        self._pieces: Iterator[bytes] | None = None
        self._buffer = b""

    def seek(self, offset: int) -> None:
        if self._pieces is not None:
            raise OSError("seek after the first read")
        self._start = offset

    def read(self, size: int = -1) -> bytes:
        if self._pieces is None:
            with _dav_errors():
                self._pieces = iter(self._open_at(self._start))
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


class _Common:
    provider: SessionProvider
    path: str
    environ: dict[str, Any]
    entry: Entry

    @property
    def files(self) -> Any:
        return self.provider.files

    if TYPE_CHECKING:  # DAVResource's

        def get_ref_url(self) -> str: ...

    def get_creation_date(self) -> float:
        return self.entry.created_at.timestamp()

    def get_last_modified(self) -> float:
        return self.entry.updated_at.timestamp()

    def get_etag(self) -> str:
        return self.entry.etag.strip('"')

    def support_etag(self) -> bool:
        return True

    def prevent_locking(self) -> bool:
        """A read-only mount takes no locks (403): a lock is for a change it refuses."""
        return self.provider.read_only

    def set_property_value(self, name: str, value: Any, *, dry_run: bool = False) -> Any:
        self.provider.check_writable()
        return super().set_property_value(name, value, dry_run=dry_run)  # type: ignore[misc]

    def _check_unlocked(self, url: str) -> None:
        """423 if ``url`` or anything under it is locked by a lock this request does not
        hold (WsgiDAV checks the resource itself only when it deletes file by file)."""
        locks = self.provider.lock_manager
        if locks is None:
            return
        if "wsgidav.conditions.if" not in self.environ:
            util.parse_if_header_dict(self.environ)
        locks.check_write_permission(
            url=url,
            depth="infinity",
            token_list=self.environ["wsgidav.ifLockTokenList"],
            principal=self.environ["wsgidav.user_name"],
        )

    def _forget(self, path: str, url: str) -> None:
        """A tree is gone: its dead properties and locks go with it."""
        self.provider.prop_manager.drop_tree(path)
        if self.provider.lock_manager is not None:
            self.provider.lock_manager.remove_all_locks_from_url(url, recursive=True)

    def handle_delete(self) -> bool:
        self.provider.check_writable()
        self._check_unlocked(self.get_ref_url())
        with _dav_errors():
            self.files.remove(_vpath(self.path), recursive=True)
        self._forget(_vpath(self.path), self.get_ref_url())
        return True

    def delete(self) -> None:
        self.handle_delete()

    def support_recursive_delete(self) -> bool:
        return True

    def _note_created(self, dest_path: str) -> None:
        if not self.files.exists(_vpath(dest_path)):
            self.environ[_CREATED] = True

    def handle_move(self, dest_path: str) -> bool:
        self.provider.check_writable()
        self._note_created(dest_path)
        with _dav_errors():
            self.files.rename(_vpath(self.path), _vpath(dest_path), overwrite=True)
        self.provider.prop_manager.move_tree(_vpath(self.path), _vpath(dest_path))
        if self.provider.lock_manager is not None:  # locks stay with the URL (RFC 4918 7.7)
            self.provider.lock_manager.remove_all_locks_from_url(self.get_ref_url(), recursive=True)
        return True

    def handle_copy(self, dest_path: str, *, depth_infinity: bool) -> bool:
        if not depth_infinity and self.entry.is_directory:
            return False  # WsgiDAV makes the empty collection (copy_move_single)
        self.provider.check_writable()
        self._note_created(dest_path)
        with _dav_errors():
            self.files.copy(_vpath(self.path), _vpath(dest_path), overwrite=True)
        self.provider.prop_manager.copy_tree(_vpath(self.path), _vpath(dest_path))
        return True

    def copy_move_single(self, dest_path: str, *, is_move: bool) -> None:
        self.provider.check_writable()
        with _dav_errors():
            if self.entry.is_directory:
                self.files.make_dir(_vpath(dest_path), exist_ok=True)
                self.provider.prop_manager.copy_properties(_vpath(self.path), _vpath(dest_path))
            elif is_move:
                self.handle_move(dest_path)
            else:
                self.handle_copy(dest_path, depth_infinity=True)

    def set_last_modified(self, dest_path: str, time_stamp: Any, *, dry_run: bool) -> bool:
        raise DAVError(HTTP_FORBIDDEN, "modification times are the store's")


class SessionFile(_Common, DAVNonCollection):  # type: ignore[misc]
    def __init__(
        self, provider: SessionProvider, path: str, environ: dict[str, Any], entry: Entry | None
    ) -> None:
        super().__init__(path, environ)
        self.provider = provider
        self._entry = entry
        self._upload: _Upload | None = None

    @property
    def entry(self) -> Entry:  # type: ignore[override]
        if self._entry is None:
            raise DAVError(HTTP_FORBIDDEN, f"{self.path} is not written yet")
        return self._entry

    def get_content_length(self) -> int:
        return self.entry.size_bytes

    def get_content_type(self) -> str:
        return self.entry.content_type or "application/octet-stream"

    def support_ranges(self) -> bool:
        return True

    def get_content(self) -> IO[bytes]:
        path = _vpath(self.path)
        return _Content(lambda start: self.files.read_stream(path, start))  # type: ignore[return-value]

    def begin_write(self, *, content_type: str | None = None) -> _Upload:
        self.provider.check_writable()
        if self._entry is not None and self._entry.is_readonly:
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
                    self._entry = self.files.write_stream(_vpath(self.path), upload.spool)
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
        """For a PUT, a file not written yet: the PUT writes it once, whole (no empty
        file is ever visible). For a LOCK of an unmapped URL, an empty file now."""
        self.provider.check_writable()
        path = self.path.rstrip("/") + "/" + name
        if self.environ.get("REQUEST_METHOD") == "PUT":
            return SessionFile(self.provider, path, self.environ, None)
        with _dav_errors():
            entry = self.files.write(_vpath(path), b"")
        return SessionFile(self.provider, path, self.environ, entry)

    def create_collection(self, name: str) -> None:
        self.provider.check_writable()
        with _dav_errors():
            self.files.make_dir(_vpath(self.path.rstrip("/") + "/" + name))

    def support_recursive_move(self, dest_path: str) -> bool:
        return True

    def move_recursive(self, dest_path: str) -> None:
        self.handle_move(dest_path)


class SessionProvider(DAVProvider):  # type: ignore[misc]
    """Resolves WebDAV paths to a session's entries through the SDK ``files`` object."""

    def __init__(self, files: Any, *, read_only: bool = False) -> None:
        super().__init__()
        self.files = files
        self.read_only = read_only
        self.prop_manager = DeadProperties()

    def is_readonly(self) -> bool:
        """Never: WsgiDAV answers 405 to the write methods of a read-only provider, while
        a refused change is 403 (RFC 4918); ``check_writable`` refuses each one."""
        return False

    def check_writable(self) -> None:
        if self.read_only:
            raise DAVError(HTTP_FORBIDDEN, "this mount is read-only")

    def set_prop_manager(self, prop_manager: Any) -> None:
        """Keep ``DeadProperties`` (WsgiDAV would set its own from the config)."""

    def get_resource_inst(self, path: str, environ: dict[str, Any]) -> Any:
        try:
            entry = self.files.get_info(_vpath(path))
        except NotFound:
            return None
        except SessionboxError as exc:
            raise DAVError(exc.status, exc.detail) from None
        cls = SessionDirectory if entry.is_directory else SessionFile
        return cls(self, path, environ, entry)


def _created_is_201(app: WsgiDAVApp) -> Callable[..., Any]:
    """WsgiDAV answers 204 to a COPY or MOVE its provider performed, new destination or
    not; RFC 4918 (9.8.5, 9.9.4) wants 201 when the destination was created."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("204") and environ.get(_CREATED):
                status = "201 Created"
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def make_app(files: Any, *, read_only: bool = False) -> Callable[..., Any]:
    """A WSGI app serving ``files`` at ``/``, anonymous (bind it to loopback)."""
    config = {
        "provider_mapping": {"/": SessionProvider(files, read_only=read_only)},
        "simple_dc": {"user_mapping": {"*": True}},
        "http_authenticator": {"accept_basic": False, "accept_digest": False},
        "lock_storage": True,
        "property_manager": False,
        "verbose": 1,
        "logging": {"enable": False, "enable_loggers": []},
        "dir_browser": {"enable": True},
    }
    return _created_is_201(WsgiDAVApp(config))

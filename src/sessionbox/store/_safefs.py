"""Host-directory primitives that a native tool cannot steer outside their root.

Every path is walked one component at a time from an open directory
descriptor with ``O_NOFOLLOW`` (``openat``-style), so a symlink planted in the
tree, even one swapped in between a check and a use, is met as a symlink and
refused, never followed: there is no realpath check to race. Files are only
opened after ``lstat`` says they are regular, and again checked on the open
descriptor, so a FIFO or device placed by a native tool never blocks a read.
Writes go to a temporary file in the same directory, are fsynced, renamed over
the target and the directory fsynced: a crash leaves old or new content.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from sessionbox.errors import (
    NotADirectory,
    NotFound,
    PathForbidden,
    PathInvalid,
    SessionboxError,
    StorageFull,
    Unavailable,
)

TMP_PREFIX = ".sessionbox-tmp-"
"""Names of in-flight writes; hidden from listings and refused as user paths."""

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_PIECE = 1024 * 1024


def is_sensitive(parts: Sequence[str]) -> bool:
    """Caco's blocklist, per segment and case-insensitively.

    Only the last segment and its parent matter for one name whose ancestors
    were checked already: callers walking a tree pass ``parts[-2:]``.
    """
    previous = ""
    for segment in parts:
        low = segment.lower()
        if (
            low == ".env"
            or low.startswith(".env.")
            or low.endswith("_key")
            or low.endswith(".pem")
            or low.startswith("id_rsa")
            or (low == "config" and previous == ".git")
        ):
            return True
        previous = low
    return False


@contextmanager
def os_errors(what: str) -> Iterator[None]:
    """The one place ``OSError`` from a host directory becomes a sessionbox error."""
    try:
        yield
    except SessionboxError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"the disk is full writing {what}") from exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.ELOOP):
            raise PathForbidden(f"the host refused access to {what}") from exc
        if exc.errno == errno.ENAMETOOLONG:
            raise PathInvalid(f"{what} is too long for the host filesystem") from exc
        raise Unavailable(f"the host filesystem failed on {what}: {exc.strerror}") from exc


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def open_child_dir(dir_fd: int, name: str, *, create: bool = False) -> int | None:
    """Open directory ``name`` below ``dir_fd`` without following links.

    None if it is missing (and not ``create``); ``PathForbidden`` for a symlink
    or special file; ``NotADirectory`` for a regular file.
    """
    for _ in range(3):
        try:
            return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        except FileNotFoundError:
            if not create:
                return None
            with suppress(FileExistsError):  # made concurrently: opened on the next turn
                os.mkdir(name, 0o777, dir_fd=dir_fd)
        except (NotADirectoryError, OSError) as exc:
            if isinstance(exc, NotADirectoryError) or exc.errno == errno.ELOOP:
                found = lstat_at(dir_fd, name)
                if found is not None and stat.S_ISREG(found.st_mode):
                    raise NotADirectory(f"{name} is a file, not a directory") from exc
                raise PathForbidden(
                    f"{name} is a symlink or special file; sessionbox never follows links"
                ) from exc
            raise
    raise Unavailable(f"{name} keeps disappearing")


def open_root(base: Path, parts: Sequence[str], *, create: bool) -> int | None:
    """Open ``base`` (trusted: configured by the operator) then ``parts`` below it."""
    if create:
        base.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    for part in parts:
        try:
            child = open_child_dir(fd, part, create=create)
        finally:
            os.close(fd)
        if child is None:
            return None
        fd = child
    return fd


def open_regular(dir_fd: int, name: str) -> tuple[int, os.stat_result]:
    """Open a regular file for reading; links, FIFOs, devices and hard links are refused.

    A hard-linked file (``st_nlink > 1``) may be the same inode as a file
    outside the scope, so it is not read.
    """
    before = lstat_at(dir_fd, name)
    if before is None:
        raise NotFound(f"no such file: {name}")
    check_regular(before, name)
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except FileNotFoundError:
        raise NotFound(f"no such file: {name}") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PathForbidden(f"{name} is a symlink; sessionbox never follows links") from exc
        raise
    after = os.fstat(fd)
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise Unavailable(f"{name} was replaced while it was being opened")
    try:
        check_regular(after, name)
    except BaseException:
        os.close(fd)
        raise
    os.set_blocking(fd, True)
    return fd, after


def check_regular(found: os.stat_result, name: str) -> None:
    if not stat.S_ISREG(found.st_mode):
        raise PathForbidden(f"{name} is not a regular file (symlink, FIFO, device or socket)")
    if found.st_nlink > 1:
        raise PathForbidden(f"{name} is hard-linked; it may be a file outside the scope")


def read_pieces(fd: int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """Bytes ``[start, end)`` of an open file in 1 MiB pieces."""
    os.lseek(fd, start, os.SEEK_SET)
    left = None if end is None else end - start
    while left is None or left > 0:
        piece = os.read(fd, _PIECE if left is None else min(_PIECE, left))
        if not piece:
            return
        if left is not None:
            left -= len(piece)
        yield piece


def atomic_write(
    dir_fd: int, name: str, pieces: Iterable[bytes], *, readonly: bool, perms: int | None = None
) -> int:
    """Replace ``name`` with ``pieces``: temp file, fsync, rename, fsync the directory.

    ``perms`` keeps the mode bits of the file being replaced (an executable stays one).
    The file's mtime is set to the fine-grained clock and returned: any later native
    write sets the kernel's coarse time instead, so the two can never look alike.
    """
    tmp = TMP_PREFIX + secrets.token_hex(8)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
    try:
        try:
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
            mode = stat.S_IMODE(os.fstat(fd).st_mode) if perms is None else perms
            if readonly:
                mode &= ~0o222
            if perms is not None or readonly:
                os.fchmod(fd, mode)
            mtime_ns = time.time_ns()
            os.utime(fd, ns=(mtime_ns, mtime_ns))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)
    return mtime_ns


class _Chain:
    """Open fds of the directories from a top down to the one last visited.

    A depth-first walk reopens each directory from its deepest open ancestor,
    so a tree costs one open per directory, and holds at most depth-many fds.
    """

    def __init__(self, top_fd: int) -> None:
        self._top = top_fd
        self._names: list[str] = []
        self._fds: list[int] = []

    def fd(self, parts: list[str]) -> int | None:
        keep = min(len(self._names), len(parts))
        while keep and self._names[:keep] != parts[:keep]:  # depth-first: rarely loops
            keep -= 1
        while len(self._names) > keep:
            self._names.pop()
            os.close(self._fds.pop())
        for part in parts[keep:]:
            child = open_child_dir(self._fds[-1] if self._fds else self._top, part)
            if child is None:
                return None
            self._names.append(part)
            self._fds.append(child)
        return self._fds[-1] if self._fds else self._top

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.pop())
        self._names.clear()


def walk_dirs(
    top_fd: int, descend: Callable[[list[str], os.stat_result], bool] | None = None
) -> Iterator[tuple[list[str], int, list[tuple[str, os.stat_result]]]]:
    """Every directory below ``top_fd`` (itself first): its parts, an fd, its entries.

    ``descend`` picks the subdirectories to enter (default: all). Iterative, with
    one open fd per level of the current branch (never followed through a link),
    so the depth of a tree a native tool made cannot exhaust the stack.
    """
    chain = _Chain(top_fd)
    pending: list[list[str]] = [[]]
    try:
        while pending:
            parts = pending.pop()
            fd = chain.fd(parts)
            if fd is None:
                continue
            with os.scandir(fd) as found:
                items = [(item.name, item.stat(follow_symlinks=False)) for item in found]
            yield parts, fd, items
            pending.extend(
                [*parts, n]
                for n, st in reversed(items)
                if stat.S_ISDIR(st.st_mode) and (descend is None or descend([*parts, n], st))
            )
    finally:
        chain.close()


def remove(dir_fd: int, name: str) -> None:
    """Remove a file, link or whole tree, never following links."""
    found = lstat_at(dir_fd, name)
    if found is None:
        return
    if not stat.S_ISDIR(found.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return
    top = open_child_dir(dir_fd, name)
    if top is None:
        return
    try:
        directories: list[list[str]] = []
        for parts, fd, items in walk_dirs(top):
            directories.append(parts)
            for child, st in items:
                if not stat.S_ISDIR(st.st_mode):
                    os.unlink(child, dir_fd=fd)
        chain = _Chain(top)
        try:
            for parts in reversed(directories[1:]):  # deepest first: each is empty by now
                parent = chain.fd(parts[:-1])
                if parent is not None:
                    os.rmdir(parts[-1], dir_fd=parent)
        finally:
            chain.close()
    finally:
        os.close(top)
    os.rmdir(name, dir_fd=dir_fd)


def remove_under(base: Path, parts: Sequence[str]) -> None:
    """Remove ``base/parts...`` if it exists; nothing outside ``base`` is touched."""
    if not parts:
        return
    fd = open_root(base, parts[:-1], create=False)
    if fd is None:
        return
    try:
        remove(fd, parts[-1])
    finally:
        os.close(fd)


def set_readonly(dir_fd: int, name: str, readonly: bool) -> None:
    """Readonly files have no write bits; a native ``chmod -w`` makes one readonly too."""
    fd, opened = open_regular(dir_fd, name)
    try:
        mode = stat.S_IMODE(opened.st_mode)
        wanted = mode & ~0o222 if readonly else mode | 0o200
        if wanted != mode:
            os.fchmod(fd, wanted)
    finally:
        os.close(fd)


@contextmanager
def volume_lock(base: Path, parts: Sequence[str], *, shared: bool) -> Iterator[None]:
    """Readers of a directory volume share this lock; a writer holds it alone.

    Without it a reader could list a volume half-way through a multi-step change
    (a snapshot rotation shows one history file too many). ``flock`` works across
    threads (one open file each) and processes; the lock file lives in
    ``base/.locks``, outside every user-visible tree.
    """
    path = volume_lock_file(base, parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


def forget_volume_lock(base: Path, parts: Sequence[str]) -> None:
    """Remove a deleted volume's lock file, so they do not pile up."""
    with suppress(FileNotFoundError):
        volume_lock_file(base, parts).unlink()


def volume_lock_file(base: Path, parts: Sequence[str]) -> Path:
    name = hashlib.sha256("/".join(parts).encode()).hexdigest()[:40]
    return base / ".locks" / f"{name}.lock"

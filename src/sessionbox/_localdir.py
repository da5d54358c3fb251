"""The export layout as a plain directory on disk (the CLI's ``--format dir``), so a
session can be committed to git and restored. Reading refuses symlinks, devices and
anything else that is not a regular file or directory, without following it."""

from __future__ import annotations

import functools
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from sessionbox.errors import ArchiveInvalid
from sessionbox.services._archive import Member, OutItem


def write_dir(items: Iterable[OutItem], target: Path) -> int:
    """Write the items under ``target`` (which must be empty or missing); returns the count."""
    if target.exists() and any(target.iterdir()):
        raise ArchiveInvalid(f"{target} is not empty")
    target.mkdir(parents=True, exist_ok=True)
    count = 0
    for item in items:
        path = target.joinpath(*item.name.split("/"))
        if item.is_dir:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                for chunk in item.chunks() if item.chunks else []:
                    out.write(chunk)
            path.chmod(0o444 if item.readonly else 0o644)
        count += 1
    return count


def read_dir(root: Path) -> Iterator[Member]:
    """Members for every entry below ``root``, in name order; links are refused."""
    if root.is_symlink() or not root.is_dir():
        raise ArchiveInvalid(f"{root} is not a directory")
    names: list[tuple[str, os.stat_result]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            names.append((rel, full.lstat()))
    for rel, info in sorted(names):
        full = root / rel
        if stat.S_ISLNK(info.st_mode):
            kind = "link"
        elif stat.S_ISDIR(info.st_mode):
            kind = "dir"
        elif stat.S_ISREG(info.st_mode):
            kind = "file"
        else:
            kind = "device or FIFO"
        yield Member(rel, kind, info.st_size, info.st_mode, functools.partial(_read, full))


def _read(path: Path) -> bytes:
    # O_NOFOLLOW: a file swapped for a link after the walk is refused, not followed.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()

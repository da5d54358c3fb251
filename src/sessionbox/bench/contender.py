"""What every contender offers the workloads: the filesystem operations being compared.

An operation a contender does not have raises :class:`Unsupported`, and its row says
``n/a`` with the reason, rather than being left out silently.
"""

from __future__ import annotations

from pathlib import Path


class Unsupported(Exception):
    """The contender has no such operation (the reason is the message)."""


class Contender:
    """A storage layer under test. Paths are absolute (``/t/d00001/f3.txt``).

    ``create`` remembers the version it wrote so that ``overwrite`` can be conditional
    on it (If-Match): a write that only lands if nobody changed the file meanwhile.
    """

    name = "?"
    #: The process whose memory the streaming workload watches (None: this one).
    server_pid: int | None = None
    #: The workloads this contender is reported on (None: all it supports).
    only: frozenset[str] | None = None

    def create(self, path: str, data: bytes) -> None:
        raise Unsupported("no create")

    def read(self, path: str) -> bytes:
        raise Unsupported("no read")

    def stat(self, path: str) -> None:
        raise Unsupported("no stat")

    def list(self, path: str) -> int:
        raise Unsupported("no directory listing")

    def overwrite(self, path: str, data: bytes) -> None:
        raise Unsupported("no conditional overwrite")

    def move(self, src: str, dst: str) -> None:
        raise Unsupported("no directory move")

    def copy(self, src: str, dst: str) -> None:
        raise Unsupported("no directory copy")

    def delete_tree(self, path: str) -> None:
        raise Unsupported("no recursive delete")

    def grep(self, pattern: str) -> int:
        """Files whose content matches the regex anywhere below the root."""
        raise Unsupported("no grep")

    def stream_in(self, path: str, source: Path) -> None:
        raise Unsupported("no streaming write")

    def stream_out(self, path: str, target: Path) -> None:
        raise Unsupported("no streaming read")

    def close(self) -> None:
        """Release everything the contender created (files, tables, processes)."""

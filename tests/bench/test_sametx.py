"""The "same tx" floor really runs sessionbox's transactions: what it writes, sessionbox reads.

If its statements drifted from the store's (a column, a counter, a parent row missed),
the files it makes would not read back through sessionbox, or the store's own audit of
its counters and parents would fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionbox.bench.contender import Unsupported
from sessionbox.bench.sametx import RawSqliteSameTx
from sessionbox.bench.workloads import content, file_path
from sessionbox.store._sqlvolume import INLINE_BYTES
from sessionbox.store.base import SelfChecking


@pytest.fixture
def floor(tmp_path: Path) -> Iterator[RawSqliteSameTx]:
    contender = RawSqliteSameTx(tmp_path)
    yield contender
    contender.close()


def _assert_consistent(floor: RawSqliteSameTx) -> None:
    """The store's own audit: counters match the entries, every entry has its parent."""
    store = floor._box.box.store
    assert isinstance(store, SelfChecking)
    assert store.check_invariants(None) == []


def test_what_it_creates_reads_back_through_sessionbox(floor: RawSqliteSameTx) -> None:
    paths = [file_path(i) for i in range(35)]  # four directories, the last one partly
    for i, path in enumerate(paths):
        floor.create(path, content(i))
    files = floor._box.files
    for i, path in enumerate(paths):
        assert files.read(path) == content(i) == floor.read(path)
        assert files.get_info(path).size_bytes == len(content(i))
    assert [e.name for e in files.list("/t")] == ["d00000", "d00001", "d00002", "d00003"]
    assert floor.list("/t/d00003") == len(files.list("/t/d00003")) == 5
    _assert_consistent(floor)


def test_a_refused_create_raises_and_writes_nothing(floor: RawSqliteSameTx) -> None:
    floor.create("/a/f.txt", b"one")
    for refused in ("/a/f.txt", "/a/f.txt/g.txt", "/a/f.txt/x/g.txt"):  # taken; below a file
        with pytest.raises(ValueError, match="refused"):
            floor.create(refused, b"two")
    assert [e.path for e in floor._box.files.list("/a")] == ["/a/f.txt"]
    assert floor._box.files.read("/a/f.txt") == b"one"
    _assert_consistent(floor)


def test_a_file_past_the_inline_size_is_not_its_work(floor: RawSqliteSameTx) -> None:
    with pytest.raises(Unsupported):
        floor.create("/big.bin", b"x" * (INLINE_BYTES + 1))
    assert floor._box.files.list("/") == []

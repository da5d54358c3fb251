"""The large-file workload's rows say what happened, never a result of zero operations."""

from __future__ import annotations

from pathlib import Path

from sessionbox.bench.contender import Contender, Unsupported
from sessionbox.bench.workloads import Plan, Session

PLAN = Plan(big_files=3, stream_mib=1, budget_s=5.0)


class _SmallFilesOnly(Contender):
    name = "small files only"

    def create(self, path: str, data: bytes) -> None:
        raise Unsupported("no large files here")


class _ReadsOnly(_SmallFilesOnly):
    name = "reads only"
    only = frozenset({"read"})


def _rows(contender: Contender, tmp_path: Path) -> dict[str, tuple[str, int, str]]:
    session = Session(contender, 10, PLAN, tmp_path)
    session.run_large()
    return {r.workload: (r.status, r.ops, r.note) for r in session.results}


def test_no_file_written_makes_the_read_row_not_applicable_with_the_reason(
    tmp_path: Path,
) -> None:
    rows = _rows(_SmallFilesOnly(), tmp_path)
    assert rows["write 1 MiB"] == ("n/a", 0, "no large files here")
    status, ops, note = rows["read 1 MiB"]
    assert (status, ops) == ("n/a", 0) and "no large files here" in note


def test_a_contender_that_wants_neither_gets_no_large_file_rows(tmp_path: Path) -> None:
    assert "read 1 MiB" not in _rows(_ReadsOnly(), tmp_path)

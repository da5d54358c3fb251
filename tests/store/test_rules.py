"""The filesystem rules as one table: the facts a volume found, and what the rule says.

Every volume (SQL rows, host directory) calls these before its I/O, so the table
is the rules' whole truth; ``test_files.py`` runs the same behaviour end to end
on every store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from sessionbox.errors import (
    DirectoryNotEmpty,
    Exists,
    IsADirectory,
    MoveIntoSelf,
    NotADirectory,
    NotFound,
    PathInvalid,
    PreconditionFailed,
    QuotaExceeded,
    ReadOnly,
    SessionboxError,
    TooLarge,
)
from sessionbox.paths import ROOT, VPath
from sessionbox.store import _rules as rules
from sessionbox.types import Entry, Limits, Usage

FILE = replace(rules.root_entry(), id=uuid.UUID(int=7), path=VPath("/d/f"), is_directory=False)
FILE = replace(FILE, size_bytes=10, version=3)
DIR = replace(FILE, path=VPath("/d"), is_directory=True, size_bytes=0)
LOCKED = replace(FILE, is_readonly=True)
ROOT_ENTRY = rules.root_entry()
F, D = VPath("/d/f"), VPath("/d")
OTHER_TAG = '"0000.1"'


def _empty() -> bool:
    return True


def _full() -> bool:
    return False


# (rule, call, the error it raises; None: it allows the operation)
CASES: list[tuple[str, Callable[[], Any], type[SessionboxError] | None]] = [
    # If-Match (every conditional operation)
    ("if-match absent", lambda: rules.check_if_match(FILE, None), None),
    ("if-match star", lambda: rules.check_if_match(FILE, "*"), None),
    ("if-match current", lambda: rules.check_if_match(FILE, FILE.etag), None),
    ("if-match in a list", lambda: rules.check_if_match(FILE, f"{OTHER_TAG}, {FILE.etag}"), None),
    ("if-match star in a list", lambda: rules.check_if_match(FILE, f"{OTHER_TAG}, *"), None),
    ("if-match stale", lambda: rules.check_if_match(FILE, OTHER_TAG), PreconditionFailed),
    ("if-match root", lambda: rules.check_if_match(ROOT_ENTRY, ROOT_ENTRY.etag), None),
    (
        "if-match root stale",
        lambda: rules.check_if_match(ROOT_ENTRY, OTHER_TAG),
        PreconditionFailed,
    ),
    # reading a whole file
    ("read a file", lambda: rules.check_read(FILE, 10), None),
    ("read a directory", lambda: rules.check_read(DIR, 10), IsADirectory),
    ("read the root", lambda: rules.check_read(ROOT_ENTRY, 10), IsADirectory),
    ("read past max_bytes", lambda: rules.check_read(FILE, 9), TooLarge),
    # writing a file
    ("create new", lambda: rules.check_write(F, None, mode="create", if_match=None), None),
    ("upsert new", lambda: rules.check_write(F, None, mode="upsert", if_match=None), None),
    ("update missing", lambda: rules.check_write(F, None, mode="update", if_match=None), NotFound),
    (
        "if-match on a missing file",
        lambda: rules.check_write(F, None, mode="upsert", if_match="*"),
        PreconditionFailed,
    ),
    (
        "a file in the way of the parents",
        lambda: rules.check_write(F, None, mode="upsert", if_match=None, blocked=D),
        NotADirectory,
    ),
    ("create existing", lambda: rules.check_write(F, FILE, mode="create", if_match=None), Exists),
    ("upsert existing", lambda: rules.check_write(F, FILE, mode="upsert", if_match=None), None),
    ("update existing", lambda: rules.check_write(F, FILE, mode="update", if_match=None), None),
    (
        "write a directory",
        lambda: rules.check_write(D, DIR, mode="upsert", if_match=None),
        IsADirectory,
    ),
    (
        "write stale",
        lambda: rules.check_write(F, FILE, mode="upsert", if_match=OTHER_TAG),
        PreconditionFailed,
    ),
    (
        "write current",
        lambda: rules.check_write(F, FILE, mode="update", if_match=FILE.etag),
        None,
    ),
    (
        "write read-only",
        lambda: rules.check_write(F, LOCKED, mode="upsert", if_match=None),
        ReadOnly,
    ),
    (
        "stale before read-only",
        lambda: rules.check_write(F, LOCKED, mode="upsert", if_match=OTHER_TAG),
        PreconditionFailed,
    ),
    # making a directory
    ("mkdir new", lambda: rules.check_mkdir(D, None, exist_ok=False), None),
    ("mkdir existing", lambda: rules.check_mkdir(D, DIR, exist_ok=False), Exists),
    ("mkdir existing, exist_ok", lambda: rules.check_mkdir(D, DIR, exist_ok=True), None),
    ("mkdir over a file", lambda: rules.check_mkdir(F, FILE, exist_ok=True), Exists),
    ("mkdir the root", lambda: rules.check_mkdir(ROOT, ROOT_ENTRY, exist_ok=False), Exists),
    ("mkdir the root, exist_ok", lambda: rules.check_mkdir(ROOT, ROOT_ENTRY, exist_ok=True), None),
    (
        "mkdir below a file",
        lambda: rules.check_mkdir(VPath("/d/f/g"), None, exist_ok=False, blocked=F),
        NotADirectory,
    ),
    # flags and metadata
    ("attrs of a file", lambda: rules.check_attrs(FILE, None), None),
    ("attrs of the root", lambda: rules.check_attrs(ROOT_ENTRY, None), PathInvalid),
    ("attrs stale", lambda: rules.check_attrs(FILE, OTHER_TAG), PreconditionFailed),
    # deleting
    (
        "delete a file",
        lambda: rules.check_delete(FILE, if_match=None, recursive=False, empty=_full),
        None,
    ),
    (
        "delete a read-only file",
        lambda: rules.check_delete(LOCKED, if_match=None, recursive=False, empty=_full),
        None,
    ),
    (
        "delete an empty directory",
        lambda: rules.check_delete(DIR, if_match=None, recursive=False, empty=_empty),
        None,
    ),
    (
        "delete a full directory",
        lambda: rules.check_delete(DIR, if_match=None, recursive=False, empty=_full),
        DirectoryNotEmpty,
    ),
    (
        "delete a full directory, recursive",
        lambda: rules.check_delete(DIR, if_match=None, recursive=True, empty=_full),
        None,
    ),
    (
        "delete stale",
        lambda: rules.check_delete(FILE, if_match=OTHER_TAG, recursive=True, empty=_empty),
        PreconditionFailed,
    ),
    (
        "empty the root",
        lambda: rules.check_delete(ROOT_ENTRY, if_match=None, recursive=False, empty=_full),
        DirectoryNotEmpty,
    ),
    (
        "empty the root, recursive, matching",
        lambda: rules.check_delete(
            ROOT_ENTRY, if_match=ROOT_ENTRY.etag, recursive=True, empty=_full
        ),
        None,
    ),
    (
        "empty the root, stale",
        lambda: rules.check_delete(ROOT_ENTRY, if_match=OTHER_TAG, recursive=True, empty=_empty),
        PreconditionFailed,
    ),
    # moving and copying: the paths
    ("move", lambda: rules.check_move(FILE, VPath("/e"), if_match=None), None),
    ("move onto itself", lambda: rules.check_move(FILE, F, if_match=None), None),
    (
        "move stale",
        lambda: rules.check_move(FILE, VPath("/e"), if_match=OTHER_TAG),
        PreconditionFailed,
    ),
    (
        "move the root",
        lambda: rules.check_move(ROOT_ENTRY, VPath("/e"), if_match=None),
        PathInvalid,
    ),
    ("move into itself", lambda: rules.check_move(DIR, VPath("/d/e"), if_match=None), MoveIntoSelf),
    ("move onto its parent", lambda: rules.check_move(FILE, D, if_match=None), MoveIntoSelf),
    ("move to a sibling prefix", lambda: rules.check_move(DIR, VPath("/d2"), if_match=None), None),
    ("copy", lambda: rules.check_copy(FILE, VPath("/e")), None),
    ("copy onto itself", lambda: rules.check_copy(FILE, F), Exists),
    ("copy into itself", lambda: rules.check_copy(DIR, VPath("/d/e")), MoveIntoSelf),
    ("copy the root", lambda: rules.check_copy(ROOT_ENTRY, VPath("/e")), PathInvalid),
    # moving and copying: what is at the target
    ("target free", lambda: rules.check_target(F, None, overwrite=False), None),
    ("target taken", lambda: rules.check_target(F, FILE, overwrite=False), Exists),
    ("target taken, overwrite", lambda: rules.check_target(F, FILE, overwrite=True), None),
    ("target read-only", lambda: rules.check_target(F, LOCKED, overwrite=True), ReadOnly),
    (
        "target below a file",
        lambda: rules.check_target(F, None, overwrite=True, blocked=D),
        NotADirectory,
    ),
]


@pytest.mark.parametrize(("call", "error"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(call: Callable[[], Any], error: type[SessionboxError] | None) -> None:
    if error is None:
        call()
        return
    with pytest.raises(error) as raised:
        call()
    assert type(raised.value) is error  # the precise class, not a parent of it


def test_what_check_mkdir_hands_back() -> None:
    assert rules.check_mkdir(D, DIR, exist_ok=True) is DIR
    assert rules.check_mkdir(D, None, exist_ok=True) is None


def test_a_move_onto_itself_has_nothing_to_do() -> None:
    assert rules.check_move(FILE, F, if_match=FILE.etag) is False
    assert rules.check_move(FILE, VPath("/e"), if_match=None) is True


def test_emptiness_is_asked_only_when_it_decides() -> None:
    asked: list[Entry] = []

    def empty() -> bool:
        asked.append(DIR)
        return False

    rules.check_delete(FILE, if_match=None, recursive=False, empty=empty)
    rules.check_delete(DIR, if_match=None, recursive=True, empty=empty)
    assert asked == []
    with pytest.raises(DirectoryNotEmpty):
        rules.check_delete(DIR, if_match=None, recursive=False, empty=empty)
    assert asked == [DIR]


LIMITS = Limits(max_file_bytes=100, session_quota_bytes=1000, max_entries_per_session=10)

# (usage at the start, reservations in order, the error of the last; None: all fit)
QUOTA: list[tuple[str, Usage, list[tuple[int, int]], type[SessionboxError] | None]] = [
    ("fits", Usage(0, 0), [(1000, 10)], None),
    ("one byte over", Usage(0, 0), [(1001, 1)], QuotaExceeded),
    ("one entry over", Usage(0, 9), [(0, 2)], QuotaExceeded),
    ("adds up in a transaction", Usage(500, 5), [(400, 4), (100, 1), (1, 0)], QuotaExceeded),
    ("freeing makes room", Usage(1000, 10), [(-10, -1), (10, 1)], None),
    ("shrinking over a lowered limit", Usage(5000, 50), [(-1, -1)], None),
    ("growing over a lowered limit", Usage(5000, 50), [(-1, -1), (1, 0)], QuotaExceeded),
    ("a move: no growth over the limit", Usage(5000, 50), [(0, 0)], None),
]


@pytest.mark.parametrize(
    ("start", "steps", "error"), [q[1:] for q in QUOTA], ids=[q[0] for q in QUOTA]
)
def test_quota(
    start: Usage, steps: list[tuple[int, int]], error: type[SessionboxError] | None
) -> None:
    quota = rules.Quota(LIMITS, usage=start)
    *before, last = steps
    for step in before:
        quota.reserve(*step)
    if error is None:
        quota.reserve(*last)
        grown = Usage(sum(s[0] for s in steps), sum(s[1] for s in steps))
        assert quota.grown == grown
        assert quota.usage() == Usage(
            start.bytes_used + grown.bytes_used, start.entry_count + grown.entry_count
        )
        return
    grown_before = quota.grown
    with pytest.raises(error):
        quota.reserve(*last)
    assert quota.grown == grown_before  # a refused reservation counts nothing


def test_quota_file_size_and_room() -> None:
    quota = rules.Quota(LIMITS, usage=Usage(990, 9))
    quota.check_file(100)
    with pytest.raises(TooLarge):
        quota.check_file(101)
    assert quota.has_room(10, 1) and not quota.has_room(11, 1) and not quota.has_room(0, 2)


def test_quota_counts_the_volume_once_and_only_when_asked() -> None:
    counted: list[int] = []

    def count() -> Usage:
        counted.append(1)
        return Usage(0, 0)

    quota = rules.Quota(LIMITS, count=count)
    quota.reserve(-5, -1)  # shrinking needs no count
    assert counted == []
    quota.reserve(5, 1)
    quota.reserve(5, 1)
    assert counted == [1]


def test_no_limits_is_no_quota() -> None:
    quota = rules.Quota(None, usage=Usage(10**12, 10**9))
    quota.check_file(10**12)
    quota.reserve(10**12, 10**9)
    assert quota.has_room(10**12, 10**9)

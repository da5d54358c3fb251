"""A multi-step update of a directory volume is all-or-nothing, wherever the process dies.

Each case runs a child process that opens the store and runs one operation, with the
``os`` calls that change the disk (``rename``, ``link``, ``unlink``, ``mkdir``,
``rmdir``, ``write``, ``fsync``) counted: at the N-th one the child exits at
once (``os._exit``: no cleanup, like ``kill -9``), or that call fails with
``ENOSPC`` (the update must then undo itself, in-process). N runs from 1 until
the operation completes, so every step boundary is hit, deterministically.
After each death or failure the store is reopened on the same directory and
must show exactly the old state or the new one, with its invariants intact.

The children come from a ``forkserver``: forking the test process itself deadlocks
when another thread of it (a live server of another test) holds a lock at that moment.
"""

from __future__ import annotations

import errno
import multiprocessing
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import sessionbox
from sessionbox.client.local import Sessionbox
from sessionbox.errors import SessionboxError, SnapshotNotFound
from sessionbox.store import _dirjournal

AGENT, SESSION = "agent", "safe_named_journal"
_STEPS = ("rename", "link", "unlink", "mkdir", "rmdir", "write", "fsync")
_KILLED = 9
_REFUSED = 3  # the operation raised a sessionbox error

State = dict[str, Any]


def _snapshots(box: Sessionbox) -> State:
    snaps = box.session(AGENT, SESSION).snapshots
    history = [item.updated_at for item in snaps.history()]
    try:
        latest = snaps.latest()
    except SnapshotNotFound:
        return {"latest": None, "history": history}
    return {
        "latest": (latest.updated_at, latest.data),
        "history": history,
        "bodies": [snaps.get(stamp).data for stamp in history],
    }


def _files(box: Sessionbox) -> State:
    fs = box.session(AGENT, SESSION).files
    found: State = {}
    pending = ["/"]
    while pending:
        for entry in fs.list(pending.pop()):
            if entry.is_directory:
                found[entry.path] = "dir"
                pending.append(entry.path)
            else:
                found[entry.path] = (fs.read(entry.path), entry.is_readonly)
    return found


def _setup_snapshots(box: Sessionbox) -> None:
    for stamp in (1, 2, 3, 4):  # the history's limit is 3: it is full
        box.session(AGENT, SESSION).snapshots.save({"n": stamp}, updated_at=stamp)


def _setup_files(box: Sessionbox) -> None:
    fs = box.session(AGENT, SESSION).files
    for path, size in (("/a/x.bin", 10), ("/a/sub/y.bin", 200_000), ("/b/z.bin", 5)):
        fs.write(path, os.urandom(size))
    fs.write("/top.txt", b"top")


CASES: dict[str, tuple[Callable[[Sessionbox], None], Callable[[Sessionbox], Any], str]] = {
    "snapshot rotation": (
        _setup_snapshots,
        lambda box: box.session(AGENT, SESSION).snapshots.save({"n": 5}, updated_at=5),
        "snapshots",
    ),
    "snapshot restore": (
        _setup_snapshots,
        lambda box: box.session(AGENT, SESSION).snapshots.restore(2),
        "snapshots",
    ),
    "move a tree over a tree": (
        _setup_files,
        lambda box: box.session(AGENT, SESSION).files.rename("/a", "/b", overwrite=True),
        "files",
    ),
    "copy a tree": (
        _setup_files,
        lambda box: box.session(AGENT, SESSION).files.copy("/a", "/new/c"),
        "files",
    ),
    "recursive delete": (
        _setup_files,
        lambda box: box.session(AGENT, SESSION).files.remove("/a", recursive=True),
        "files",
    ),
    "overwrite": (
        _setup_files,
        lambda box: box.session(AGENT, SESSION).files.write("/top.txt", b"new top" * 1000),
        "files",
    ),
    "clear all snapshots": (
        _setup_snapshots,
        lambda box: box.session(AGENT, SESSION).snapshots.clear(),
        "snapshots",
    ),
}


def _observe(url: str, kind: str) -> State:
    with sessionbox.open(url) as box:
        state = _snapshots(box) if kind == "snapshots" else _files(box)
        assert box.store.check_invariants() == []  # type: ignore[attr-defined]
    return state


_CHILDREN = multiprocessing.get_context("forkserver")
_CHILDREN.set_forkserver_preload(["sessionbox", __name__])


def _die_at(limit: int, url: str, case: str, how: str = "exit", report: Path | None = None) -> int:
    """Run ``case``'s operation in a child that dies (or fails) at its ``limit``-th disk
    change; its exit code. ``report`` receives how many changes a run that went through made.
    """
    child = _CHILDREN.Process(target=_child, args=(limit, url, case, how, report))
    child.start()
    child.join()
    assert child.exitcode is not None
    return child.exitcode


def _child(limit: int, url: str, case: str, how: str, report: Path | None) -> None:
    """The child's side of ``_die_at`` (in another process: not measured by coverage)."""
    op = CASES[case][1]
    code = 0
    try:
        box = sessionbox.open(url)
        count = [0]

        def counted(real: Callable[..., Any]) -> Callable[..., Any]:
            def step(*args: Any, **kwargs: Any) -> Any:
                count[0] += 1
                if count[0] == limit:
                    if how == "exit":
                        os._exit(_KILLED)
                    raise OSError(errno.ENOSPC, "injected: no space left")
                return real(*args, **kwargs)

            return step

        for name in _STEPS:
            setattr(os, name, counted(getattr(os, name)))
        op(box)
        if report is not None:
            report.write_text(str(count[0]))
    except SessionboxError:
        code = _REFUSED
    except BaseException:
        code = 4
    os._exit(code)


@pytest.mark.parametrize("how", ["exit", "raise"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_an_update_killed_at_any_step_leaves_the_old_or_the_new_state(
    case: str, how: str, tmp_path: Path
) -> None:
    setup, _, kind = CASES[case]
    template = tmp_path / "template"
    url = f"dir:///{template}"
    with sessionbox.open(url) as box:
        box.create_session(AGENT, SESSION)
        setup(box)
    old = _observe(url, kind)
    done, steps = tmp_path / "done", tmp_path / "steps"
    shutil.copytree(template, done)
    assert _die_at(0, f"dir:///{done}", case, report=steps) == 0
    new = _observe(f"dir:///{done}", kind)
    assert new != old
    total = int(steps.read_text())
    assert total > 3  # the case really has several steps to die between
    outcomes = {0: 0, _KILLED: 0, _REFUSED: 0}
    for limit in range(1, total + 1):
        work = tmp_path / f"kill{limit}"
        shutil.copytree(template, work)
        code = _die_at(limit, f"dir:///{work}", case, how)
        assert code in outcomes, f"the operation broke at step {limit} (exit {code})"
        outcomes[code] += 1
        seen = _observe(f"dir:///{work}", kind)
        # An injected error may be absorbed (``mkdir(exist_ok=True)``): then it is done.
        assert seen == new if code == 0 else seen in (old, new), f"step {limit}: {seen}"
        assert not any(p.name == _dirjournal.LOG for p in (work / ".journal").rglob("*"))
        shutil.rmtree(work)
    assert outcomes[_KILLED if how == "exit" else _REFUSED] > 3

"""Import is all-or-nothing even when a write fails midway, on every store."""

from __future__ import annotations

import pytest

import sessionbox
from sessionbox.errors import NotADirectory, SessionNotFound
from sessionbox.paths import VPath
from sessionbox.services.transfer import Plan, TransferService, _Session


def test_a_failed_write_leaves_no_session(box: sessionbox.Sessionbox, agent: str) -> None:
    service = TransferService(box.store, box.settings)
    good = _Session()
    good.files["files"][VPath("/ok.txt")] = (b"ok", False)
    bad = _Session()
    # Validation would refuse this; a plan built by hand gets past it and fails in the store.
    bad.files["files"][VPath("/a")] = (b"file", False)
    bad.files["files"][VPath("/a/b")] = (b"below a file", False)
    bad.manifest = {}
    plan = Plan(sessions={"safe_named_good": good, "safe_named_bad": bad})
    with pytest.raises(NotADirectory):
        service.import_plan(agent, plan)
    for sid in ("safe_named_good", "safe_named_bad"):
        with pytest.raises(SessionNotFound):
            box.get_session(agent, sid)
    assert box.list_sessions(agent) == []

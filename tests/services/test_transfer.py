"""Import is all-or-nothing even when a write fails midway, on every store."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sessionbox
from sessionbox import paths
from sessionbox.config import Settings
from sessionbox.errors import ArchiveInvalid, NotADirectory, SessionNotFound
from sessionbox.paths import VPath
from sessionbox.services._archive import Member
from sessionbox.services.transfer import Plan, TransferService, _Session, plan_import


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


def _member(name: str, data: bytes = b"x", kind: str = "file") -> Member:
    return Member(name, kind, len(data), 0o644, lambda: data)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(
        st.one_of(
            st.text(max_size=40).map(lambda t: f"sessions/safe_named_h/files/{t}"),
            st.text(max_size=40).map(lambda t: f"applets/{t}"),
            st.text(max_size=60),
        ),
        max_size=5,
    ),
    kinds=st.lists(st.sampled_from(["file", "dir", "link", "device", "fifo"]), min_size=5),
)
def test_any_member_names_are_planned_or_refused(names: list[str], kinds: list[str]) -> None:
    """Whatever the names, validation answers ArchiveInvalid or a plan of valid paths."""
    members = [_member(n, kind=k) for n, k in zip(names, kinds, strict=False)]
    try:
        plan = plan_import(members, Settings())
    except ArchiveInvalid:
        return
    for session in plan.sessions.values():
        for files in session.files.values():
            for path in files:
                assert paths.validate_writable(path) == path
    for path in plan.applets:
        assert paths.validate_writable(path) == path

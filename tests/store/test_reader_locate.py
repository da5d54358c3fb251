"""Readers locate their volume without usage sums: the same answers as writers get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import sessionbox
from sessionbox.errors import SessionNotFound
from sessionbox.types import VolumeKey


def test_reader_usage_sums_every_volume_of_the_session(
    box: sessionbox.Sessionbox, agent: str
) -> None:
    record = box.create_session(agent)
    handle = box.session(agent, record.id)
    handle.files.write("/a", b"123")
    handle.outputs.store_output(b"4567", {"type": "raw"})
    files = VolumeKey(agent, record.id, "files")
    read = box.store.view(files, lambda v: v.usage())
    written = box.store.update(files, lambda v: v.usage())
    assert read == written
    assert read.bytes_used >= 7


def test_reader_sees_no_expired_session(box: sessionbox.Sessionbox, agent: str) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    box.store.create_session(agent, "safe_named_gone", "safe", "named", expires_at=past)
    with pytest.raises(SessionNotFound):
        box.session(agent, "safe_named_gone").files.read("/a")
    with pytest.raises(SessionNotFound):
        box.session(agent, "safe_named_gone").files.get_info("/")


def test_reader_does_not_see_another_agents_session(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent)
    box.session(agent, record.id).files.write("/a", b"x")
    with pytest.raises(SessionNotFound):
        box.session(agent + "-other", record.id).files.read("/a")

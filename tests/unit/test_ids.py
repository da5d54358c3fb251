from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionbox.errors import AgentIdInvalid, SessionIdInvalid
from sessionbox.ids import (
    build_session_id,
    parse_session_id,
    uuid7,
    validate_agent_id,
)

IDENT = st.text(alphabet="ABCxyz019._~-", min_size=1, max_size=200)


@given(st.sampled_from(["safe", "unsafe"]), st.sampled_from(["auto", "named"]), IDENT)
def test_built_ids_parse_back_to_their_parts(mode: str, kind: str, identifier: str) -> None:
    sid = build_session_id(mode, kind, identifier)  # type: ignore[arg-type]
    parsed = parse_session_id(str(sid))
    assert (parsed.mode, parsed.type, parsed.identifier) == (mode, kind, identifier)
    assert parsed.partition == f"persist:{mode}_{kind}_{identifier}"


@given(st.text(max_size=60))
def test_anything_else_is_refused(text: str) -> None:
    try:
        sid = parse_session_id(text)
    except SessionIdInvalid:
        return
    assert str(sid) in (text, text.lower())


@pytest.mark.parametrize(
    "text",
    [
        "",
        "safe",
        "safe_auto_",
        "safe_auto",
        "Safe_auto_x",
        "safe_other_x",
        "root_auto_x",
        "safe_auto_a/b",
        "safe_auto_a b",
        "safe_auto_" + "x" * 201,
        "safe_auto_é",
        "../safe_auto_x",
        "0190f3a0-1234-7abc-8def-0123456789a",
        "{0190f3a0-1234-7abc-8def-0123456789ab}",
    ],
)
def test_invalid_session_ids(text: str) -> None:
    with pytest.raises(SessionIdInvalid):
        parse_session_id(text)


def test_uuid_sessions_are_safe_and_lowercased() -> None:
    text = str(uuid.uuid4()).upper()
    sid = parse_session_id(text)
    assert sid.mode == "safe" and sid.type == "uuid" and str(sid) == text.lower()


def test_uuid7_is_time_ordered() -> None:
    first, second = uuid7(), uuid7()
    assert first.version == 7 and first < second


@pytest.mark.parametrize(
    "good", ["a", "agent-1", "A.b_c", "x" * 128, "0190f3a0-1234-7abc-8def-0123456789ab"]
)
def test_valid_agent_ids(good: str) -> None:
    assert validate_agent_id(good) == good


@pytest.mark.parametrize("bad", ["", "-a", ".a", "a/b", "a b", "x" * 129, "é", "a\x00"])
def test_invalid_agent_ids(bad: str) -> None:
    with pytest.raises(AgentIdInvalid):
        validate_agent_id(bad)

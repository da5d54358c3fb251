from __future__ import annotations

import pickle
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionbox.errors import AgentIdInvalid, PanelPathInvalid, SessionIdInvalid
from sessionbox.ids import (
    build_session_id,
    derive_auto,
    derive_child,
    new_named,
    parse_session_id,
    uuid7,
    uuid_from_column,
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


@given(st.uuids())
def test_a_stored_uuid_reads_back_as_the_same_uuid(value: uuid.UUID) -> None:
    back = uuid_from_column(str(value))
    assert type(back) is uuid.UUID and back == value and hash(back) == hash(value)
    assert pickle.loads(pickle.dumps(back)) == value and not back < value
    assert (str(back), back.hex, back.version, back.is_safe) == (
        str(value),
        value.hex,
        value.version,
        uuid.SafeUUID.unknown,
    )


@given(st.text(alphabet="0123456789abcdefABCDEF-_+ xz", max_size=40))
def test_a_text_reads_as_uuid_uuid_reads_it_or_is_refused_like_it(text: str) -> None:
    try:
        expected = uuid.UUID(text)
    except ValueError:
        with pytest.raises(ValueError):
            uuid_from_column(text)
    else:
        assert uuid_from_column(text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not-a-uuid",
        "0190f3a0-1234-7abc-8def-0123456789zz",
        "0190f3a0-1234-7abc-8def-0123456789ab00",
    ],
)
def test_a_corrupt_stored_uuid_is_an_error_not_a_wrong_id(bad: str) -> None:
    with pytest.raises(ValueError):
        uuid_from_column(bad)


@pytest.mark.parametrize(
    "good", ["a", "agent-1", "A.b_c", "x" * 128, "0190f3a0-1234-7abc-8def-0123456789ab"]
)
def test_valid_agent_ids(good: str) -> None:
    assert validate_agent_id(good) == good


@pytest.mark.parametrize("bad", ["", "-a", ".a", "a/b", "a b", "x" * 129, "é", "a\x00"])
def test_invalid_agent_ids(bad: str) -> None:
    with pytest.raises(AgentIdInvalid):
        validate_agent_id(bad)


# -- derivation (resolve) -------------------------------------------------------------

SEGMENT = st.text(alphabet="ABCxyz019._-", min_size=1, max_size=20).filter(
    lambda s: s not in (".", "..")
)
PANEL = st.lists(SEGMENT, min_size=1, max_size=5).map("/".join)


@given(st.sampled_from(["safe", "unsafe"]), PANEL)
def test_auto_ids_escape_the_tree_path(mode: str, panel: str) -> None:
    sid = derive_auto(mode, panel)  # type: ignore[arg-type]
    assert str(sid) == f"{mode}_auto_{panel.replace('/', '~')}"
    assert parse_session_id(str(sid)) == sid
    assert derive_auto(mode, panel) == sid  # type: ignore[arg-type]  # deterministic


@given(PANEL, SEGMENT)
def test_named_children_are_deterministic(panel: str, name: str) -> None:
    parent = derive_auto("safe", panel)
    child = derive_child("safe", parent, name)
    assert str(child) == f"safe_auto_{parent.identifier}~{name}"
    assert derive_child("safe", parent, name) == child


def test_examples_from_the_issue() -> None:
    assert str(derive_auto("safe", "panels/editor")) == "safe_auto_panels~editor"
    parent = parse_session_id("safe_auto_panels~root")
    assert str(derive_child("safe", parent, "myeditor")) == "safe_auto_panels~root~myeditor"


def test_unnamed_children_and_new_sessions_are_unique() -> None:
    parent = parse_session_id("safe_auto_panels~root")
    children = {str(derive_child("safe", parent)) for _ in range(50)}
    assert len(children) == 50
    assert all(c.startswith("safe_auto_panels~root~") for c in children)
    named = {str(new_named("unsafe")) for _ in range(50)}
    assert len(named) == 50 and all(n.startswith("unsafe_named_") for n in named)
    for text in children | named:
        assert str(parse_session_id(text)) == text


@pytest.mark.parametrize(
    "panel",
    [
        "",
        "/panels/editor",
        "panels/",
        "panels//editor",
        "a/../b",
        ".",
        "a/./b",
        "a~b",
        "a b",
        "é",
        "a\\b",
        "a\x00",
        "a\n",
        "x" * 201,
        "/".join(["x" * 50] * 5),
    ],
)
def test_invalid_panel_paths(panel: str) -> None:
    with pytest.raises(PanelPathInvalid):
        derive_auto("safe", panel)


@pytest.mark.parametrize("name", ["", ".", "..", "a~b", "a/b", "a b", "é", "x" * 201])
def test_invalid_child_names(name: str) -> None:
    with pytest.raises(SessionIdInvalid):
        derive_child("safe", parse_session_id("safe_auto_p"), name)


def test_a_child_that_would_be_too_long_is_refused() -> None:
    with pytest.raises(SessionIdInvalid):
        derive_child("safe", parse_session_id("safe_auto_" + "p" * 195), "toolong")


@pytest.mark.parametrize("mode", ["", "SAFE", "root", None])
def test_invalid_modes(mode: object) -> None:
    with pytest.raises(SessionIdInvalid):
        build_session_id(mode, "auto", "x")  # type: ignore[arg-type]

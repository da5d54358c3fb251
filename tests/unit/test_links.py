"""natstack-child:// links (issue 4 §3): round trips and refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionbox import ChildLink, build_child_link, parse_child_link
from sessionbox.errors import InvalidInput, PanelPathInvalid, SessionIdInvalid

# Every character the grammar allows, the awkward ones (~ . - _) weighted in.
IDENT = st.text(alphabet="~.-_~.-_aZ09", min_size=1, max_size=200)
SEGMENT = st.text(alphabet=".-_aZ09", min_size=1, max_size=30).filter(
    lambda s: s not in (".", "..")
)
PANEL = st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
SESSION = st.builds(
    lambda m, t, i: f"{m}_{t}_{i}",
    st.sampled_from(["safe", "unsafe"]),
    st.sampled_from(["auto", "named"]),
    IDENT,
) | st.uuids().map(str)


def test_the_seed_example() -> None:
    link = build_child_link("panels/editor", "safe_named_shared")
    assert link == "natstack-child:///panels/editor?session=safe_named_shared"
    assert parse_child_link(link) == ChildLink("panels/editor", "safe_named_shared")
    assert build_child_link("panels/editor") == "natstack-child:///panels/editor"
    assert parse_child_link("natstack-child:///panels/editor") == ChildLink("panels/editor")


@given(PANEL, SESSION | st.none())
def test_links_round_trip(source: str, session_id: str | None) -> None:
    link = build_child_link(source, session_id)
    assert parse_child_link(link) == ChildLink(source, session_id)
    assert parse_child_link(link) == parse_child_link(build_child_link(source, session_id))


@given(st.text(max_size=80))
def test_arbitrary_text_is_a_valid_link_or_refused(text: str) -> None:
    try:
        parsed = parse_child_link(text)
    except InvalidInput:
        return
    assert build_child_link(parsed.source, parsed.session_id) == text


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http:///panels/editor", InvalidInput),
        ("natstack-child://host/panels/editor", InvalidInput),
        ("natstack-child:panels/editor", InvalidInput),
        ("natstack-child:///panels/editor#x", InvalidInput),
        ("natstack-child:///panels/editor?session=a&session=b", InvalidInput),
        ("natstack-child:///panels/editor?other=1", InvalidInput),
        ("natstack-child:///panels/editor?session", InvalidInput),
        ("natstack-child:///panels/../etc", PanelPathInvalid),
        ("natstack-child:///panels/%2e%2e/etc", PanelPathInvalid),
        ("natstack-child:///", PanelPathInvalid),
        ("natstack-child:///panels/editor?session=unsafe_x", SessionIdInvalid),
        ("natstack-child:///panels/editor?session=safe_named_a%2Fb", SessionIdInvalid),
        ("natstack-child:///panels/editor?session=", SessionIdInvalid),
        ("natstack-child:///a?session=safe_named_a%00", SessionIdInvalid),
    ],
)
def test_bad_links_are_refused(url: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_child_link(url)


def test_building_refuses_bad_parts() -> None:
    with pytest.raises(PanelPathInvalid):
        build_child_link("/panels/editor")
    with pytest.raises(SessionIdInvalid):
        build_child_link("panels/editor", "unsafe_x")
    with pytest.raises(InvalidInput):
        parse_child_link(42)  # type: ignore[arg-type]

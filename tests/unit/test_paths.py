from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessionbox import paths
from sessionbox.errors import PathInvalid, PathReserved

VALID = ["/", "/a", "/a/b.txt", "/src/main.rs", "/with space", "/100%", "/a_b/c-d", "/é", "/日本"]
INVALID = [
    "",
    "a",
    "a/b",
    "/a/",
    "//",
    "/a//b",
    "/.",
    "/..",
    "/a/../b",
    "/a/./b",
    "/a/..",
    "/a\x00b",
    "/a\nb",
    "/a\x7fb",
    "/a\\b",
    "/..\\..\\etc",
    "/%2e%2e",
    "/%2E%2E/etc",
    "/%252e%252e",
    "/a%2fb",
    "/a%5cb",
    "/a%00",
    "/x\u202eexe.txt",
    "/zero\u200bwidth",
    "/bom\ufeff",
    "/\ud800",
    "/e\u0301",  # NFD é
    "/line\u2028break",  # U+2028/2029 end a line like \n does
    "/para\u2029break",
    "/next\u0085line",
    "/" + "a" * 256,
    "/" + "/".join(["abcdefgh"] * 600),
]


@pytest.mark.parametrize("path", VALID)
def test_valid_paths_pass_unchanged(path: str) -> None:
    assert paths.validate(path) == path


@pytest.mark.parametrize("path", INVALID)
def test_invalid_paths_are_refused(path: str) -> None:
    with pytest.raises(PathInvalid):
        paths.validate(path)


@pytest.mark.parametrize("path", ["/_", "/_/stat", "/_actions/grep", "/_private/x"])
def test_reserved_first_segment_refused_for_writes(path: str) -> None:
    assert paths.validate(path) == path
    with pytest.raises(PathReserved):
        paths.validate_writable(path)


def test_underscore_below_first_segment_is_fine() -> None:
    assert paths.validate_writable("/a/_b") == "/a/_b"


def test_root_is_not_writable() -> None:
    with pytest.raises(PathInvalid):
        paths.validate_writable("/")


def test_helpers() -> None:
    p = paths.validate("/a/b/c.txt")
    assert paths.parent(p) == "/a/b"
    assert paths.name(p) == "c.txt"
    assert paths.ancestors(p) == ["/a", "/a/b"]
    assert paths.is_within(p, paths.validate("/a"))
    assert not paths.is_within(paths.validate("/ab"), paths.validate("/a"))
    assert paths.rebase(p, paths.validate("/a"), paths.validate("/z")) == "/z/b/c.txt"


segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"),
    min_size=1,
    max_size=20,
)


@given(st.lists(segment, min_size=1, max_size=6))
def test_validation_is_all_or_nothing(parts: list[str]) -> None:
    """Either a path validates unchanged, or it is refused with PathInvalid; nothing else."""
    path = "/" + "/".join(parts)
    try:
        result = paths.validate(path)
    except PathInvalid:
        return
    assert result == path
    assert ".." not in result.split("/") and "." not in result.split("/")
    assert "//" not in result and "\x00" not in result


@given(st.text(max_size=80))
def test_arbitrary_text_never_crashes(text: str) -> None:
    with contextlib.suppress(PathInvalid):
        paths.validate(text)


@given(st.lists(segment, min_size=1, max_size=5))
def test_subtree_bounds_hold_exactly_the_descendants(parts: list[str]) -> None:
    try:
        directory = paths.validate("/" + "/".join(parts))
    except PathInvalid:
        return
    low, high = paths.subtree_bounds(directory)
    child = directory + "/x"
    neighbours = [directory + "-x", directory + "%", directory + "_", directory + "0"]
    assert low <= child < high
    for neighbour in neighbours:
        assert not (low <= neighbour < high)


@given(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=60))
def test_ascii_fast_path_agrees_with_the_full_rules(text: str) -> None:
    path = "/" + text
    if path == "/":
        return  # the root is handled before either path
    outcomes = []
    for check in (paths.validate, lambda p: paths._validate_fully(p, paths.MAX_PATH_BYTES)):
        try:
            outcomes.append(check(path))
        except PathInvalid:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1]

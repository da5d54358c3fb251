"""Hypothesis against the ``dir:///`` store: any valid path maps to exactly that file on disk,
and any other string is refused without touching the disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sessionbox
from sessionbox import paths
from sessionbox.client.local import Files
from sessionbox.config import Settings
from sessionbox.errors import InvalidInput, PathForbidden, PathReserved, SessionboxError
from sessionbox.store import _safefs

SEGMENT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
    min_size=1,
    max_size=20,
)
CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def dir_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Files, Path]]:
    root = tmp_path_factory.mktemp("dirpaths")
    settings_ = Settings(data_dir=root, store=f"dir:///{root / 'store'}")
    with sessionbox.open(settings=settings_) as box:
        box.create_session("agent", "safe_named_paths")
        scope = box.store.scope_dir("agent", "safe_named_paths")
        assert scope is not None
        yield box.session("agent", "safe_named_paths").files, root


def _on_disk(root: Path) -> set[str]:
    return {os.fsdecode(p) for p in root.rglob("*") if not p.name.startswith("catalog.db")}


@CHECKS
@given(parts=st.lists(SEGMENT, min_size=1, max_size=3), data=st.binary(max_size=64))
def test_valid_paths_are_exactly_that_file(
    dir_box: tuple[Files, Path], parts: list[str], data: bytes
) -> None:
    fs, root = dir_box
    path = "/" + "/".join(parts)
    try:
        valid = paths.validate_writable(path)
    except InvalidInput:
        return
    scope = root / "store" / "agents" / "agent" / "sessions" / "safe_named_paths" / "files"
    try:
        fs.write(valid, data)
    except PathForbidden:
        assert _safefs.is_sensitive(parts)
        return
    except PathReserved:  # sessionbox's own temporary names (Hypothesis found one)
        assert any(p.startswith(_safefs.TMP_PREFIX) for p in parts)
        return
    except SessionboxError as exc:  # a file in the way of a parent, from an earlier example
        assert exc.code in ("not_a_directory", "is_a_directory"), exc
        return
    assert scope.joinpath(*parts).read_bytes() == data
    assert fs.read(valid) == data
    assert parts[-1] in [e.name for e in fs.list(str(paths.parent(valid)))]
    fs.remove("/" + parts[0], recursive=True)
    assert not scope.joinpath(parts[0]).exists()


@CHECKS
@given(path=st.text(max_size=60), data=st.binary(max_size=8))
def test_any_string_is_refused_or_stays_inside(
    dir_box: tuple[Files, Path], path: str, data: bytes
) -> None:
    fs, root = dir_box
    scope = root / "store" / "agents" / "agent" / "sessions" / "safe_named_paths" / "files"
    before = _on_disk(root) - {p for p in _on_disk(root) if p.startswith(str(scope) + "/")}
    try:
        fs.write(path, data)
    except SessionboxError as exc:
        assert exc.status < 500, exc
    after = _on_disk(root) - {p for p in _on_disk(root) if p.startswith(str(scope) + "/")}
    assert after == before
    for child in fs.list("/"):
        fs.remove(child.path, recursive=True)

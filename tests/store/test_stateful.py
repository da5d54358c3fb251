"""A hypothesis state machine: random fs operations against a dict model, on every store.

Every operation must either succeed on both, or fail with the same error class
on both, and after every step the store lists exactly what the model holds.
"""

from __future__ import annotations

import secrets

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import sessionbox
from sessionbox import errors

DIR = object()
NAMES = st.sampled_from(["a", "b", "c", "d%", "d_", "é"])
PATHS = st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
DATA = st.binary(max_size=40)


class Model:
    """The expected state: path -> bytes, or DIR; and which files are readonly."""

    def __init__(self) -> None:
        self.items: dict[str, object] = {}
        self.readonly: set[str] = set()

    def drop(self, path: str) -> None:
        del self.items[path]
        self.readonly.discard(path)

    def parents(self, path: str) -> list[str]:
        parts = path.split("/")[1:-1]
        return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]

    def check_parents(self, path: str) -> None:
        for parent in self.parents(path):
            if parent in self.items and self.items[parent] is not DIR:
                raise errors.NotADirectory(parent)

    def make_parents(self, path: str) -> None:
        for parent in self.parents(path):
            self.items.setdefault(parent, DIR)

    def subtree(self, path: str) -> list[str]:
        return [p for p in self.items if p == path or p.startswith(path + "/")]

    def write(self, path: str, data: bytes) -> None:
        if self.items.get(path) is DIR:
            raise errors.IsADirectory(path)
        if path in self.readonly:
            raise errors.ReadOnly(path)
        self.check_parents(path)
        self.make_parents(path)
        self.items[path] = data

    def mkdir(self, path: str) -> None:
        if path in self.items:
            raise errors.Exists(path)
        self.check_parents(path)
        self.make_parents(path)
        self.items[path] = DIR

    def delete(self, path: str, recursive: bool) -> None:
        if path not in self.items:
            raise errors.NotFound(path)
        tree = self.subtree(path)
        if len(tree) > 1 and not recursive:
            raise errors.DirectoryNotEmpty(path)
        for p in tree:
            self.drop(p)

    def set_readonly(self, path: str, flag: bool) -> None:
        if path not in self.items:
            raise errors.NotFound(path)
        (self.readonly.add if flag else self.readonly.discard)(path)

    def transfer(self, src: str, dst: str, keep: bool, overwrite: bool = False) -> None:
        if src not in self.items:
            raise errors.NotFound(src)
        if src == dst:
            if keep:
                raise errors.Exists(dst)
            return
        if self.items[src] is DIR and dst.startswith(src + "/"):
            raise errors.MoveIntoSelf(dst)
        if src.startswith(dst + "/"):
            raise errors.MoveIntoSelf(dst)
        if dst in self.items:
            if not overwrite:
                raise errors.Exists(dst)
            if dst in self.readonly:
                raise errors.ReadOnly(dst)
            for p in self.subtree(dst):
                self.drop(p)
        self.check_parents(dst)
        self.make_parents(dst)
        moved = {dst + p[len(src) :]: self.items[p] for p in self.subtree(src)}
        flags = {dst + p[len(src) :] for p in self.subtree(src) if p in self.readonly}
        if not keep:
            for p in self.subtree(src):
                self.drop(p)
        self.items.update(moved)
        self.readonly |= flags


def machine_for(box: sessionbox.Sessionbox, agent: str) -> type[RuleBasedStateMachine]:
    class FilesMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            record = box.create_session(agent, f"safe_named_{secrets.token_hex(8)}")
            self.fs = box.session(agent, record.id).files
            self.model = Model()

        def same(self, real: object, expected: object) -> None:
            outcome = []
            for action in (real, expected):
                try:
                    action()  # type: ignore[operator]
                    outcome.append(None)
                except errors.SessionboxError as exc:
                    outcome.append(type(exc))
            assert outcome[0] == outcome[1], outcome

        @rule(path=PATHS, data=DATA)
        def write(self, path: str, data: bytes) -> None:
            self.same(lambda: self.fs.write(path, data), lambda: self.model.write(path, data))

        @rule(path=PATHS)
        def mkdir(self, path: str) -> None:
            self.same(lambda: self.fs.make_dir(path), lambda: self.model.mkdir(path))

        @rule(path=PATHS, recursive=st.booleans())
        def delete(self, path: str, recursive: bool) -> None:
            self.same(
                lambda: self.fs.remove(path, recursive=recursive),
                lambda: self.model.delete(path, recursive),
            )

        @rule(src=PATHS, dst=PATHS, overwrite=st.booleans())
        def move(self, src: str, dst: str, overwrite: bool) -> None:
            self.same(
                lambda: self.fs.rename(src, dst, overwrite=overwrite),
                lambda: self.model.transfer(src, dst, False, overwrite),
            )

        @rule(src=PATHS, dst=PATHS, overwrite=st.booleans())
        def copy(self, src: str, dst: str, overwrite: bool) -> None:
            self.same(
                lambda: self.fs.copy(src, dst, overwrite=overwrite),
                lambda: self.model.transfer(src, dst, True, overwrite),
            )

        @rule(path=PATHS, flag=st.booleans())
        def set_readonly(self, path: str, flag: bool) -> None:
            if isinstance(self.model.items.get(path), bytes):  # flags on files only
                self.same(
                    lambda: self.fs.set_readonly(path, flag),
                    lambda: self.model.set_readonly(path, flag),
                )

        @invariant()
        def matches_model(self) -> None:
            seen: dict[str, object] = {}
            flagged: set[str] = set()
            pending = ["/"]
            while pending:
                for entry in self.fs.list(pending.pop()):
                    if entry.is_directory:
                        seen[entry.path] = DIR
                        pending.append(entry.path)
                    else:
                        seen[entry.path] = self.fs.read(entry.path)
                    if entry.is_readonly:
                        flagged.add(entry.path)
            assert seen == self.model.items
            assert flagged == self.model.readonly

    return FilesMachine


def test_fs_matches_a_simple_model(box: sessionbox.Sessionbox, agent: str) -> None:
    run_state_machine_as_test(
        machine_for(box, agent),
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


@pytest.mark.parametrize("name", ["d%", "d_"])
def test_model_knows_percent_and_underscore_are_plain(name: str) -> None:
    model = Model()
    model.write(f"/{name}/x", b"1")
    model.write("/d/y", b"2")
    assert model.subtree("/d") == ["/d", "/d/y"]

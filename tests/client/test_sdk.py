"""The SDK contract, written once, run on both transports and every store.

Each test gets ``sdk`` (``sessionbox.Sessionbox`` in-process or
``sessionbox.Client`` over real HTTP) and ``fs`` (a fresh session's files);
what passes here behaves the same way whichever transport a user picks.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest

import sessionbox


def test_write_read_info(fs: Any) -> None:
    entry = fs.write("/notes/today.md", "# hello")
    assert isinstance(entry, sessionbox.Entry)
    assert entry.path == "/notes/today.md" and entry.name == "today.md"
    assert entry.size_bytes == 7 and not entry.is_directory
    assert entry.content_type == "text/markdown"
    assert fs.read("/notes/today.md") == b"# hello"
    assert fs.read_text("/notes/today.md") == "# hello"
    info = fs.get_info("/notes/today.md")
    assert info.etag == entry.etag and info.id == entry.id and info.version == entry.version
    assert fs.get_info("/notes").is_directory
    assert fs.exists("/notes/today.md") and not fs.exists("/nope")


def test_binary_round_trip(fs: Any) -> None:
    data = bytes(range(256)) * 10
    fs.write("/bin/blob", data)
    assert fs.read("/bin/blob") == data
    assert fs.get_info("/bin/blob").content_type == "application/octet-stream"


def test_etag_is_if_match(fs: Any) -> None:
    first = fs.write("/f.txt", "1")
    second = fs.write("/f.txt", "2", etag=first.etag)
    assert second.etag != first.etag and second.version > first.version
    with pytest.raises(sessionbox.PreconditionFailed):
        fs.write("/f.txt", "3", etag=first.etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        fs.remove("/f.txt", etag=first.etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        fs.rename("/f.txt", "/g.txt", etag=first.etag)
    assert fs.read_text("/f.txt") == "2"
    assert fs.remove("/f.txt", etag=second.etag) == 1


def test_create_only_and_conflicts(fs: Any) -> None:
    fs.write("/a.txt", "x", overwrite=False)
    with pytest.raises(sessionbox.Exists) as caught:
        fs.write("/a.txt", "y", overwrite=False)
    assert isinstance(caught.value, FileExistsError)
    with pytest.raises(sessionbox.NotADirectory):
        fs.write("/a.txt/child", "y")
    with pytest.raises(sessionbox.NotADirectory):
        fs.list("/a.txt")
    fs.make_dir("/d")
    with pytest.raises(sessionbox.IsADirectory):
        fs.read("/d")
    with pytest.raises(sessionbox.IsADirectory):
        fs.read_stream("/d")


def test_directories_list_and_remove(fs: Any) -> None:
    fs.make_dir("/d")
    with pytest.raises(sessionbox.Exists):
        fs.make_dir("/d")
    assert fs.make_dir("/d", exist_ok=True).is_directory
    for name in ("b.txt", "a.txt", "c d%.txt"):
        fs.write(f"/d/{name}", name)
    assert [e.name for e in fs.list("/d")] == ["a.txt", "b.txt", "c d%.txt"]
    assert [e.name for e in fs.list()] == ["d"]
    assert fs.read_text("/d/c d%.txt") == "c d%.txt"
    with pytest.raises(sessionbox.DirectoryNotEmpty):
        fs.remove("/d")
    assert fs.remove("/d", recursive=True) == 4
    assert fs.list("/") == []


def test_rename_copy_readonly(fs: Any) -> None:
    original = fs.write("/src/a.py", "print(1)\n")
    moved = fs.rename("/src/a.py", "/src/b.py")
    assert moved.path == "/src/b.py" and moved.id == original.id
    copied = fs.copy("/src/b.py", "/src/c.py")
    assert copied.id != original.id and fs.read_text("/src/c.py") == "print(1)\n"
    with pytest.raises(sessionbox.Exists):
        fs.copy("/src/b.py", "/src/c.py")
    assert fs.copy("/src/b.py", "/src/c.py", overwrite=True).path == "/src/c.py"
    with pytest.raises(sessionbox.MoveIntoSelf):
        fs.rename("/src", "/src/inner")
    locked = fs.set_readonly("/src/c.py")
    assert locked.is_readonly
    with pytest.raises(sessionbox.ReadOnly):
        fs.write("/src/c.py", "changed")
    with pytest.raises(sessionbox.ReadOnly):
        fs.rename("/src/b.py", "/src/c.py", overwrite=True)
    assert not fs.set_readonly("/src/c.py", False).is_readonly
    assert fs.write("/src/r.txt", "ro", readonly=True).is_readonly


def test_grep(fs: Any) -> None:
    fs.write("/src/main.rs", "fn main() {}\nfn helper() {}\n")
    fs.write("/src/lib.py", "def main():\n    pass\n")
    fs.write("/bin.dat", b"\x00fn main")
    found = fs.grep(r"fn\s+\w+", path_pattern="*.rs")
    assert [f.path for f in found] == ["/src/main.rs"]
    assert [(m.line_number, m.line) for m in found[0].matches] == [
        (1, "fn main() {}"),
        (2, "fn helper() {}"),
    ]
    assert [f.path for f in fs.grep("main", path="/src")] == ["/src/lib.py", "/src/main.rs"]
    assert sum(len(f.matches) for f in fs.grep("fn", max_matches=1)) == 1
    with pytest.raises(sessionbox.PatternInvalid):
        fs.grep("(unclosed")


def test_streams_and_ranges(fs: Any) -> None:
    data = os.urandom(2 * 1024 * 1024 + 123)
    entry = fs.write_stream("/big.bin", io.BytesIO(data))
    assert entry.size_bytes == len(data)
    assert b"".join(fs.read_stream("/big.bin")) == data
    assert b"".join(fs.read_stream("/big.bin", 10, 20)) == data[10:20]
    assert b"".join(fs.read_stream("/big.bin", len(data) - 5)) == data[-5:]
    with pytest.raises(sessionbox.RangeNotSatisfiable):
        fs.read_stream("/big.bin", len(data) + 1)
    with pytest.raises(sessionbox.NotFound):
        fs.read_stream("/missing.bin")
    replaced = fs.write_stream("/big.bin", io.BytesIO(b"small"), etag=entry.etag)
    with pytest.raises(sessionbox.PreconditionFailed):
        fs.write_stream("/big.bin", io.BytesIO(b"late"), etag=entry.etag)
    assert fs.read("/big.bin") == b"small" and replaced.size_bytes == 5


TEN = b"0123456789"
# (file, start, end, the bytes; or the error): the one range rule (sessionbox.ranges).
RANGES: list[tuple[str, int, int | None, bytes | type[Exception]]] = [
    ("/ten", 0, None, TEN),
    ("/ten", 0, 1, b"0"),
    ("/ten", 9, None, b"9"),
    ("/ten", 9, 100, b"9"),
    ("/ten", 3, 7, b"3456"),
    ("/ten", 0, 0, sessionbox.RangeNotSatisfiable),  # empty: HTTP cannot even say it
    ("/ten", 3, 3, sessionbox.RangeNotSatisfiable),
    ("/ten", 5, 3, sessionbox.RangeNotSatisfiable),
    ("/ten", -1, None, sessionbox.RangeNotSatisfiable),
    ("/ten", 10, None, sessionbox.RangeNotSatisfiable),
    ("/ten", 10, 11, sessionbox.RangeNotSatisfiable),
    ("/empty", 0, None, b""),  # no range: the whole file, even an empty one
    ("/empty", 0, 1, sessionbox.RangeNotSatisfiable),
    ("/missing", 0, 1, sessionbox.NotFound),
    ("/missing", 0, 0, sessionbox.RangeNotSatisfiable),  # the shape is judged first
]


@pytest.mark.parametrize(("path", "start", "end", "expected"), RANGES)
def test_read_stream_ranges_are_the_same_on_both_transports(
    fs: Any, path: str, start: int, end: int | None, expected: bytes | type[Exception]
) -> None:
    fs.write("/ten", TEN)
    fs.write("/empty", b"")
    if isinstance(expected, bytes):
        assert b"".join(fs.read_stream(path, start, end)) == expected
        return
    with pytest.raises(expected):
        b"".join(fs.read_stream(path, start, end))


def test_listing_a_big_file_is_not_a_directory(fs: Any) -> None:
    fs.write("/big", b"x" * (2 * 1024 * 1024 + 1))  # over the JSON read limit of the tests
    with pytest.raises(sessionbox.NotADirectory):
        fs.list("/big")


def test_limits_raise_the_library_classes(fs: Any) -> None:
    with pytest.raises(sessionbox.TooLarge):
        fs.write_stream("/huge", io.BytesIO(b"\0" * (3 * 1024 * 1024 + 1)))
    assert not fs.exists("/huge")


@pytest.mark.parametrize(
    "path", ["relative.txt", "/a/../b", "/a/./b", "/a//b", "/trailing/", "/nul\x00", ""]
)
def test_bad_paths_are_path_invalid(fs: Any, path: str) -> None:
    with pytest.raises(sessionbox.PathInvalid):
        fs.write(path, "x")
    with pytest.raises(sessionbox.PathInvalid):
        fs.read(path)
    assert fs.list("/") == []


def test_reserved_names(fs: Any) -> None:
    with pytest.raises(sessionbox.PathReserved):
        fs.write("/_secret", "x")
    with pytest.raises(sessionbox.NotFound):
        fs.read("/_secret")


def test_sessions(sdk: Any, agent: str) -> None:
    named = sdk.create_session(agent, "safe_named_notes", ttl_seconds=3600)
    assert isinstance(named, sessionbox.SessionRecord)
    assert named.id == "safe_named_notes" and named.mode == "safe" and named.type == "named"
    assert named.partition == "persist:safe_named_notes" and named.expires_at is not None
    unsafe = sdk.create_session(agent, "unsafe_auto_panels~x")
    fresh = sdk.create_session(agent)
    assert fresh.type == "uuid"
    assert sdk.get_session(agent, named.id) == named
    assert {s.id for s in sdk.list_sessions(agent)} == {named.id, unsafe.id, fresh.id}
    assert [s.id for s in sdk.list_sessions(agent, mode="unsafe")] == [unsafe.id]
    with pytest.raises(sessionbox.Exists):
        sdk.create_session(agent, named.id)
    with pytest.raises(sessionbox.InvalidInput):
        sdk.create_session(agent, "safe_named_x", mode="unsafe")
    sdk.delete_session(agent, named.id)
    with pytest.raises(sessionbox.SessionNotFound):
        sdk.get_session(agent, named.id)
    with pytest.raises(sessionbox.SessionNotFound):
        sdk.session(agent, named.id).files.write("/a", "x")


@pytest.mark.parametrize("agent_id", ["..", "a/b", "", "-lead"])
def test_bad_agent_ids(sdk: Any, agent_id: str) -> None:
    with pytest.raises(sessionbox.AgentIdInvalid):
        sdk.create_session(agent_id)
    with pytest.raises(sessionbox.AgentIdInvalid):
        sdk.list_sessions(agent_id)


@pytest.mark.parametrize("session_id", ["..", "a/b", "safe_weird_x", "safe_named_"])
def test_bad_session_ids(sdk: Any, agent: str, session_id: str) -> None:
    with pytest.raises(sessionbox.SessionIdInvalid):
        sdk.get_session(agent, session_id)
    with pytest.raises(sessionbox.SessionIdInvalid):
        sdk.session(agent, session_id).files.read("/a")


def test_other_agents_session_is_not_found(sdk: Any, agent: str) -> None:
    record = sdk.create_session(agent)
    with pytest.raises(sessionbox.SessionNotFound):
        sdk.session(agent + "-other", record.id).files.list("/")

"""The filesystem contract, run on every store through the in-process library."""

from __future__ import annotations

import io
import os
import secrets

import pytest

import sessionbox
from sessionbox.client.local import Files
from sessionbox.content import CHUNK_BYTES, Content
from sessionbox.errors import (
    DirectoryNotEmpty,
    Exists,
    IsADirectory,
    MoveIntoSelf,
    NotADirectory,
    NotFound,
    PathInvalid,
    PathReserved,
    PreconditionFailed,
    QuotaExceeded,
    RangeNotSatisfiable,
    ReadOnly,
    SessionNotFound,
    TooLarge,
    Unavailable,
)
from sessionbox.paths import VPath
from sessionbox.store._sqlvolume import INLINE_BYTES
from sessionbox.store.base import Store
from sessionbox.types import VolumeKey

MiB = 1024 * 1024


@pytest.fixture
def fs(box: sessionbox.Sessionbox, agent: str) -> Files:
    record = box.create_session(agent)
    return box.session(agent, record.id).files


def test_write_read_roundtrip(fs: Files) -> None:
    entry = fs.write("/hello.txt", "hi there")
    assert fs.read("/hello.txt") == b"hi there"
    assert entry.size_bytes == 8 and not entry.is_directory and entry.name == "hello.txt"
    assert fs.get_info("/hello.txt").etag == entry.etag


def test_parents_are_created(fs: Files) -> None:
    fs.write("/a/b/c.txt", b"x")
    assert fs.get_info("/a").is_directory and fs.get_info("/a/b").is_directory
    assert [e.name for e in fs.list("/a")] == ["b"]


def test_file_in_the_way_of_a_parent(fs: Files) -> None:
    fs.write("/a", b"file")
    with pytest.raises(NotADirectory):
        fs.write("/a/b.txt", b"x")
    with pytest.raises(NotADirectory):
        fs.make_dir("/a/b/c")
    assert fs.read("/a") == b"file"


def test_create_only_refuses_existing(fs: Files) -> None:
    fs.write("/x", b"1")
    with pytest.raises(Exists):
        fs.write("/x", b"2", overwrite=False)
    assert fs.read("/x") == b"1"


def test_directory_cannot_be_written_as_file(fs: Files) -> None:
    fs.make_dir("/d")
    with pytest.raises(IsADirectory):
        fs.write("/d", b"x")
    with pytest.raises(IsADirectory):
        fs.read("/d")
    with pytest.raises(Exists):
        fs.make_dir("/d")
    assert fs.make_dir("/d", exist_ok=True).is_directory


def test_etag_changes_on_every_write_even_same_millisecond(fs: Files) -> None:
    tags = {fs.write("/f", f"v{i}").etag for i in range(20)}
    assert len(tags) == 20


def test_if_match(fs: Files) -> None:
    first = fs.write("/f", b"1")
    second = fs.write("/f", b"2", etag=first.etag)
    with pytest.raises(PreconditionFailed):
        fs.write("/f", b"3", etag=first.etag)
    assert fs.read("/f") == b"2"
    with pytest.raises(PreconditionFailed):
        fs.remove("/f", etag=first.etag)
    with pytest.raises(PreconditionFailed):
        fs.write("/missing", b"x", etag=second.etag)
    assert fs.remove("/f", etag=second.etag) == 1


def test_readonly_blocks_change_and_move_over_but_not_delete(fs: Files) -> None:
    fs.write("/ro", b"keep")
    fs.set_readonly("/ro")
    with pytest.raises(ReadOnly):
        fs.write("/ro", b"change")
    fs.write("/other", b"x")
    with pytest.raises(ReadOnly):
        fs.rename("/other", "/ro", overwrite=True)
    assert fs.read("/ro") == b"keep"
    fs.set_readonly("/ro", False)
    fs.write("/ro", b"changed")
    fs.set_readonly("/ro")
    assert fs.remove("/ro") == 1


def test_list_is_sorted_and_pages(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent)
    for i in range(25):
        box.session(agent, record.id).files.write(f"/d/f{i:02d}", b"")
    service = box._files
    page = service.list(agent, record.id, "/d", limit=10)
    names = [e.name for e in page.items]
    while page.next_cursor:
        page = service.list(agent, record.id, "/d", limit=10, cursor=page.next_cursor)
        names += [e.name for e in page.items]
    assert names == [f"f{i:02d}" for i in range(25)]


def test_list_of_a_file_or_missing_dir(fs: Files) -> None:
    fs.write("/f", b"")
    with pytest.raises(NotADirectory):
        fs.list("/f")
    with pytest.raises(NotFound):
        fs.list("/nope")


@pytest.mark.parametrize("neighbour", ["/d-x", "/d%", "/d_", "/d.txt", "/d0", "/dd"])
def test_prefix_operations_never_leak_into_neighbours(fs: Files, neighbour: str) -> None:
    fs.write("/d/inner", b"1")
    fs.write(neighbour, b"n")
    fs.write(neighbour + "x/deep", b"n")
    assert [e.path for e in fs.list("/d")] == ["/d/inner"]
    assert fs.remove("/d", recursive=True) == 2
    assert fs.read(neighbour) == b"n" and fs.read(neighbour + "x/deep") == b"n"


def test_delete(fs: Files) -> None:
    fs.write("/d/a", b"1")
    fs.write("/d/e/b", b"2")
    with pytest.raises(DirectoryNotEmpty):
        fs.remove("/d")
    assert fs.remove("/d", recursive=True) == 4
    assert not fs.exists("/d") and not fs.exists("/d/e/b")
    with pytest.raises(NotFound):
        fs.remove("/d")
    fs.make_dir("/empty")
    assert fs.remove("/empty") == 1


def test_delete_root_clears_everything(fs: Files) -> None:
    fs.write("/a/b", b"1")
    fs.write("/c", b"2")
    with pytest.raises(DirectoryNotEmpty):
        fs.remove("/")
    assert fs.remove("/", recursive=True) == 3
    assert fs.list("/") == []


def test_move_file_and_tree(fs: Files) -> None:
    fs.write("/src/a.txt", b"a")
    fs.write("/src/sub/b.txt", b"b")
    original = fs.get_info("/src/a.txt")
    moved = fs.rename("/src", "/lib/src2")
    assert moved.path == "/lib/src2" and moved.is_directory
    assert fs.read("/lib/src2/sub/b.txt") == b"b"
    assert fs.get_info("/lib/src2/a.txt").id == original.id
    assert [e.name for e in fs.list("/lib/src2")] == ["a.txt", "sub"]
    assert [e.name for e in fs.list("/lib/src2/sub")] == ["b.txt"]
    assert not fs.exists("/src")


def test_move_needs_overwrite_and_refuses_into_self(fs: Files) -> None:
    fs.write("/a/x", b"1")
    fs.write("/b", b"2")
    with pytest.raises(Exists):
        fs.rename("/b", "/a")
    with pytest.raises(MoveIntoSelf):
        fs.rename("/a", "/a/inner")
    with pytest.raises(MoveIntoSelf):
        fs.rename("/a/x", "/a", overwrite=True)
    fs.rename("/b", "/a", overwrite=True)
    assert fs.read("/a") == b"2" and not fs.exists("/a/x")


def test_move_if_match(fs: Files) -> None:
    entry = fs.write("/f", b"1")
    fs.write("/f", b"2")
    with pytest.raises(PreconditionFailed):
        fs.rename("/f", "/g", etag=entry.etag)
    assert fs.exists("/f")


def test_copy_tree_shares_content(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent)
    fs = box.session(agent, record.id).files
    fs.write("/a/one", b"1" * 1000)
    fs.write("/a/two/three", b"3")
    copied = fs.copy("/a", "/b")
    assert copied.path == "/b"
    assert fs.read("/b/one") == b"1" * 1000 and fs.read("/b/two/three") == b"3"
    assert fs.get_info("/b/one").content_hash == fs.get_info("/a/one").content_hash
    assert fs.get_info("/b/one").id != fs.get_info("/a/one").id
    fs.write("/b/one", b"changed")
    assert fs.read("/a/one") == b"1" * 1000
    with pytest.raises(Exists):
        fs.copy("/a", "/b")
    with pytest.raises(MoveIntoSelf):
        fs.copy("/a", "/a/c")


def test_large_file_in_chunks_and_ranges(fs: Files) -> None:
    data = secrets.token_bytes(2 * CHUNK_BYTES + 123)
    fs.write_stream("/big.bin", io.BytesIO(data))
    assert fs.get_info("/big.bin").size_bytes == len(data)
    assert b"".join(fs.read_stream("/big.bin")) == data
    start, end = CHUNK_BYTES - 10, 2 * CHUNK_BYTES + 5
    assert b"".join(fs.read_stream("/big.bin", start, end)) == data[start:end]
    assert fs.read("/big.bin") == data


def test_empty_file(fs: Files) -> None:
    fs.write("/empty", b"")
    assert fs.read("/empty") == b"" and fs.get_info("/empty").size_bytes == 0
    assert b"".join(fs.read_stream("/empty")) == b""


def test_limits(fs: Files) -> None:
    with pytest.raises(TooLarge):
        fs.write("/too-big", b"x" * (3 * MiB + 1))
    fs.write("/a", b"x" * (3 * MiB))
    fs.write("/b", b"y" * (3 * MiB))
    with pytest.raises(QuotaExceeded):
        fs.write("/c", b"z" * (3 * MiB))
    with pytest.raises(QuotaExceeded):
        fs.copy("/a", "/a2")
    assert not fs.exists("/c") and not fs.exists("/a2")
    fs.remove("/a")
    fs.write("/c", b"z" * (3 * MiB))


def test_entry_limit(fs: Files) -> None:
    for i in range(299):
        fs.write(f"/f{i}", b"")
    with pytest.raises(QuotaExceeded):
        fs.write("/dir/new", b"")
    assert not fs.exists("/dir")
    fs.write("/last", b"")


def test_usage_counters_follow_every_operation(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent)
    fs = box.session(agent, record.id).files
    volume = VolumeKey(agent, record.id, "files")
    fs.write("/a/b", b"12345")
    fs.copy("/a", "/c")
    fs.write("/a/b", b"1")
    fs.rename("/c", "/d")
    fs.remove("/a", recursive=True)
    usage = box.store.view(volume, lambda v: v.usage())
    assert (usage.bytes_used, usage.entry_count) == (5, 2)


def test_grep(fs: Files) -> None:
    fs.write("/src/main.rs", "fn main() {}\nlet x = 1;\nfn helper() {}")
    fs.write("/src/lib/util.rs", "fn util() {}")
    fs.write("/src/notes.txt", "fn in text")
    fs.write("/bin/blob", b"\x00fn binary")
    found = fs.grep(r"fn\s+\w+", path_pattern="*.rs")
    assert [(f.path, [m.line_number for m in f.matches]) for f in found] == [
        ("/src/lib/util.rs", [1]),
        ("/src/main.rs", [1, 3]),
    ]
    assert [f.path for f in fs.grep("fn", path_pattern="src/**/*.rs")] == [
        "/src/lib/util.rs",
        "/src/main.rs",
    ]
    assert [f.path for f in fs.grep("fn", path="/src/lib")] == ["/src/lib/util.rs"]
    assert fs.grep("binary") == []
    assert sum(len(f.matches) for f in fs.grep("fn", max_matches=2)) == 2


def test_hostile_paths_write_nothing(fs: Files) -> None:
    for bad in ["/a/../b", "//x", "/x/", "/\x00", "/%2e%2e/x", "/a\\b"]:
        with pytest.raises(PathInvalid):
            fs.write(bad, b"x")
    with pytest.raises(PathReserved):
        fs.write("/_/stat", b"x")
    assert fs.list("/") == []


def test_session_isolation_and_not_found(box: sessionbox.Sessionbox, agent: str) -> None:
    one, two = box.create_session(agent), box.create_session(agent)
    box.session(agent, one.id).files.write("/secret", b"1")
    assert not box.session(agent, two.id).files.exists("/secret")
    assert not box.session("other-agent", one.id).files.exists("/") or True
    with pytest.raises(SessionNotFound):
        box.session("other-agent", one.id).files.read("/secret")
    with pytest.raises(SessionNotFound):
        box.session(agent, "safe_named_missing").files.write("/x", b"1")


def test_deleting_a_session_deletes_its_files(box: sessionbox.Sessionbox, agent: str) -> None:
    record = box.create_session(agent)
    box.session(agent, record.id).files.write("/a/b", b"1")
    box.delete_session(agent, record.id)
    with pytest.raises(SessionNotFound):
        box.session(agent, record.id).files.list("/")
    again = box.create_session(agent, record.id)
    assert box.session(agent, again.id).files.list("/") == []


@pytest.mark.parametrize("size", [0, 10, INLINE_BYTES, INLINE_BYTES + 1, CHUNK_BYTES + 10])
@pytest.mark.parametrize("grow", [0, 3], ids=["same size", "grown"])
def test_a_stream_reads_the_version_it_opened(fs: Files, size: int, grow: int) -> None:
    """A stream opened before an overwrite (a raw read whose headers are sent) delivers
    the version it opened. Regressions: a small file's bytes live in its row, which an
    overwrite replaces; a ``dir:///`` store opened large files only when the stream
    started, so a same-size replacement streamed the new bytes under the old ETag."""
    first, second = secrets.token_bytes(size), secrets.token_bytes(size + grow)
    fs.write("/v.bin", first)
    stream = fs.read_stream("/v.bin")
    fs.write("/v.bin", second)
    assert b"".join(stream) == first
    assert fs.read("/v.bin") == second


def test_a_stream_never_started_releases_its_file(fs: Files) -> None:
    """A raw read answered without its body (a 304, a client gone, a range refused) must
    not leave the file open: on a directory store each such read would cost a descriptor."""
    fs.write("/big.bin", secrets.token_bytes(INLINE_BYTES + 1))
    b"".join(fs.read_stream("/big.bin"))  # the store's connections are open from here on
    before = _open_descriptors()
    refusals = []  # kept, as a caller may keep an exception (its traceback holds frames)
    for _ in range(20):
        fs.read_stream("/big.bin")
        with pytest.raises(RangeNotSatisfiable) as refused:
            fs.read_stream("/big.bin", start=INLINE_BYTES + 1)
        refusals.append(refused)
    assert _open_descriptors() == before


@pytest.mark.parametrize("settings_and_store", ["directory"], indirect=True)
def test_a_held_file_is_read_once(store: Store, volume: VolumeKey) -> None:
    """A directory store's reader closes its descriptor at the end of its read; a second
    read could reach whatever file has that descriptor number by then, so it is refused."""
    store.update(volume, lambda v: v.write(VPath("/a.bin"), Content.of(b"a" * 5000), mode="create"))
    entry, reader = store.open_file(volume, VPath("/a.bin"))
    assert b"".join(reader(0, entry.size_bytes)) == b"a" * 5000
    with pytest.raises(RuntimeError):
        reader(0, 5)


@pytest.mark.parametrize("grow", [0, 3], ids=["same size", "grown"])
def test_chunks_of_a_walked_entry_are_that_version_or_unavailable(
    store: Store, volume: VolumeKey, grow: int
) -> None:
    """An export walks its entries first and streams each file later: a file replaced in
    between must give the walked version's bytes or a clean ``Unavailable``, never the
    new bytes under the old entry (regression: the directory store compared sizes only)."""
    first = secrets.token_bytes(INLINE_BYTES + 1)
    store.update(volume, lambda v: v.write(VPath("/w.bin"), Content.of(first), mode="create"))
    [(entry, _)] = store.view(volume, lambda v: list(v.walk(VPath("/w.bin"), with_content=False)))
    second = Content.of(secrets.token_bytes(INLINE_BYTES + 1 + grow))
    store.update(volume, lambda v: v.write(VPath("/w.bin"), second, mode="update"))
    try:
        got = b"".join(store.read_chunks(volume, entry, 0, entry.size_bytes))
    except Unavailable:
        return
    assert got == first


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))

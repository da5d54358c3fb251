"""Directory-backed volumes: unsafe scope dirs on every store, and the ``dir:///`` store.

Every test runs on each store with an *unsafe* session, whose ``files`` volume
is a plain directory on all of them; native tools are played by ``os`` calls
inside the scope dir, as a shell in it would.
"""

from __future__ import annotations

import os
import secrets
import stat
import threading
from pathlib import Path

import pytest

import sessionbox
from sessionbox.client.local import Files
from sessionbox.config import Settings
from sessionbox.errors import (
    Exists,
    InvalidInput,
    NotFound,
    PathForbidden,
    PathReserved,
    PreconditionFailed,
    QuotaExceeded,
    ReadOnly,
    SessionNotFound,
)
from sessionbox.store import open_store
from sessionbox.store.base import Store

MiB = 1024 * 1024


@pytest.fixture
def unsafe(box: sessionbox.Sessionbox, agent: str) -> tuple[Files, Path]:
    record = box.create_session(agent, f"unsafe_named_{secrets.token_hex(6)}")
    scope = box.store.scope_dir(agent, record.id)
    assert scope is not None
    return box.session(agent, record.id).files, scope


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory outside every scope, holding a secret a link might reach."""
    place = tmp_path_factory.mktemp("outside")
    (place / "secret.txt").write_bytes(b"top secret")
    return place


def test_unsafe_files_land_in_the_scope_dir(
    box: sessionbox.Sessionbox, unsafe: tuple[Files, Path], agent: str
) -> None:
    fs, scope = unsafe
    fs.write("/src/main.py", "print('hi')\n")
    assert (scope / "src" / "main.py").read_bytes() == b"print('hi')\n"
    assert sorted(p.name for p in scope.iterdir()) == ["src"]  # no sidecar inside
    if box.store.url.startswith("dir:"):
        assert scope.parts[-5:-3] == ("agents", agent) and scope.name == "files"
    else:
        assert scope.parts[-3:-1] == ("session-scopes", agent)


def test_safe_sessions_stay_in_the_database(
    box: sessionbox.Sessionbox, agent: str, tmp_path: Path
) -> None:
    record = box.create_session(agent, f"safe_named_{secrets.token_hex(6)}")
    scope = box.store.scope_dir(agent, record.id)
    if box.store.url.startswith("dir:"):
        assert scope is not None  # a dir:/// store keeps every volume on disk
    else:
        assert scope is None
        box.session(agent, record.id).files.write("/x", b"1")
        assert not (box.settings.scopes_dir.absolute() / agent).exists()


def test_two_agents_with_the_same_unsafe_id_do_not_share(
    box: sessionbox.Sessionbox, agent: str
) -> None:
    sid = f"unsafe_auto_panels~{secrets.token_hex(4)}"
    other = agent + "-other"
    box.create_session(agent, sid)
    box.create_session(other, sid)
    box.session(agent, sid).files.write("/mine", b"a")
    assert not box.session(other, sid).files.exists("/mine")
    assert box.store.scope_dir(agent, sid) != box.store.scope_dir(other, sid)


def test_native_changes_are_visible(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    (scope / "made").mkdir()
    (scope / "made" / "by-shell.txt").write_bytes(b"native")
    listed = fs.list("/made")
    assert [(e.name, e.size_bytes, e.is_directory) for e in listed] == [("by-shell.txt", 6, False)]
    assert listed[0].content_type == "text/plain"
    assert fs.read("/made/by-shell.txt") == b"native"
    first = fs.get_info("/made/by-shell.txt")
    assert first.etag == listed[0].etag  # stable while nothing changes
    (scope / "made" / "by-shell.txt").write_bytes(b"native, changed")
    assert fs.read("/made/by-shell.txt") == b"native, changed"
    assert fs.get_info("/made/by-shell.txt").etag != first.etag
    (scope / "made" / "by-shell.txt").unlink()
    with pytest.raises(NotFound):
        fs.read("/made/by-shell.txt")


def test_native_rewrite_invalidates_the_etag_of_a_sessionbox_write(
    unsafe: tuple[Files, Path],
) -> None:
    fs, scope = unsafe
    written = fs.write("/f.txt", b"one")
    # Same size, and possibly within the same clock tick: the stat stamp may not
    # see it, but the inode, ctime or content hash must.
    target = scope / "f.txt"
    target.write_bytes(b"two")
    now = fs.get_info("/f.txt")
    assert now.etag != written.etag and now.id == written.id
    with pytest.raises(PreconditionFailed):
        fs.write("/f.txt", b"three", etag=written.etag)
    fs.write("/f.txt", b"three", etag=now.etag)
    assert target.read_bytes() == b"three"


def test_writes_keep_the_mode_bits_of_native_files(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    script = scope / "run.sh"
    script.write_bytes(b"#!/bin/sh\n")
    script.chmod(0o755)
    fs.write("/run.sh", b"#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


def test_readonly_is_the_write_permission(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    fs.write("/ro", b"keep")
    fs.set_readonly("/ro")
    assert not (scope / "ro").stat().st_mode & 0o222
    with pytest.raises(ReadOnly):
        fs.write("/ro", b"change")
    fs.set_readonly("/ro", False)
    assert (scope / "ro").stat().st_mode & 0o200
    (scope / "native-ro").write_bytes(b"x")
    (scope / "native-ro").chmod(0o444)
    assert fs.get_info("/native-ro").is_readonly
    with pytest.raises(ReadOnly):
        fs.write("/native-ro", b"y")


@pytest.mark.parametrize(
    "name",
    [
        ".env",
        ".ENV",
        ".env.local",
        "server_key",
        "API_KEY",
        "cert.pem",
        "Cert.PEM",
        "id_rsa",
        "id_rsa.pub",
        "ID_RSA_old",
    ],
)
def test_sensitive_names_are_neither_written_nor_read(
    unsafe: tuple[Files, Path], name: str
) -> None:
    fs, scope = unsafe
    for path in (f"/{name}", f"/deep/er/{name}", f"/{name}/inside"):
        with pytest.raises(PathForbidden):
            fs.write(path, b"leak")
    with pytest.raises(PathForbidden):
        fs.make_dir(f"/{name}")
    assert list(scope.iterdir()) == []
    (scope / name).write_bytes(b"SECRET=1")  # a native tool made one
    with pytest.raises(PathForbidden):
        fs.read(f"/{name}")
    with pytest.raises(PathForbidden):
        fs.get_info(f"/{name}")
    with pytest.raises(PathForbidden):
        fs.remove(f"/{name}")
    with pytest.raises(PathForbidden):
        fs.rename(f"/{name}", "/renamed")
    fs.write("/visible", b"v")
    with pytest.raises(PathForbidden):
        fs.rename("/visible", f"/{name}", overwrite=True)
    assert [e.name for e in fs.list("/")] == ["visible"]
    assert (scope / name).read_bytes() == b"SECRET=1"


def test_git_config_is_sensitive_but_other_git_files_are_not(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    fs.write("/repo/.git/HEAD", b"ref: refs/heads/main\n")
    fs.write("/repo/config", b"not git's")
    with pytest.raises(PathForbidden):
        fs.write("/repo/.git/config", b"[core]")
    with pytest.raises(PathForbidden):
        fs.write("/repo/.GIT/Config", b"[core]")
    (scope / "repo" / ".git" / "config").write_bytes(b"[remote] url=https://token@x")
    assert [e.name for e in fs.list("/repo/.git")] == ["HEAD"]
    with pytest.raises(PathForbidden):
        fs.read("/repo/.git/config")
    with pytest.raises(PathForbidden):
        fs.copy("/repo", "/repo2")
    with pytest.raises(PathForbidden):
        fs.remove("/repo", recursive=True)
    assert not (scope / "repo2").exists() and (scope / "repo" / ".git" / "config").exists()


def test_symlink_leaving_the_scope_is_refused(unsafe: tuple[Files, Path], outside: Path) -> None:
    fs, scope = unsafe
    (scope / "out").symlink_to(outside)
    (scope / "secret-link").symlink_to(outside / "secret.txt")
    for call in (
        lambda: fs.read("/out/secret.txt"),
        lambda: fs.read("/secret-link"),
        lambda: fs.get_info("/secret-link"),
        lambda: fs.list("/out"),
        lambda: fs.write("/out/new.txt", b"x"),
        lambda: fs.write("/out/secret.txt", b"overwritten"),
        lambda: fs.write("/secret-link", b"overwritten"),
        lambda: fs.make_dir("/out/sub"),
        lambda: fs.remove("/out/secret.txt"),
        lambda: fs.copy("/secret-link", "/copied"),
        lambda: fs.rename("/out/secret.txt", "/stolen"),
        lambda: list(fs.read_stream("/out/secret.txt")),
    ):
        with pytest.raises(PathForbidden):
            call()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_bytes() == b"top secret"
    assert fs.list("/") == []  # links are not listed
    assert not (scope / "copied").exists() and not (scope / "stolen").exists()
    assert fs.remove("/out") == 1  # removing the link itself never follows it
    assert (outside / "secret.txt").exists()


def test_symlinks_inside_the_scope_are_not_followed_either(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    fs.write("/real/a.txt", b"a")
    (scope / "alias").symlink_to("real")
    with pytest.raises(PathForbidden):
        fs.read("/alias/a.txt")
    assert [e.name for e in fs.list("/")] == ["real"]


def test_a_link_swapped_in_for_a_directory_is_never_followed(
    unsafe: tuple[Files, Path], outside: Path
) -> None:
    """The race a realpath check loses: a checked directory replaced by a link."""
    fs, scope = unsafe
    fs.write("/work/a.txt", b"a")
    assert fs.read("/work/a.txt") == b"a"
    (scope / "work").rename(scope / "work-old")
    (scope / "work").symlink_to(outside)
    with pytest.raises(PathForbidden):
        fs.write("/work/secret.txt", b"pwned")
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_scope_dir_replaced_by_a_link_is_refused(unsafe: tuple[Files, Path], outside: Path) -> None:
    fs, scope = unsafe
    fs.write("/x", b"1")
    scope.rename(scope.with_name(scope.name + "-moved"))
    scope.symlink_to(outside)
    with pytest.raises(PathForbidden):
        fs.read("/secret.txt")
    with pytest.raises(PathForbidden):
        fs.write("/new", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_fifo_and_device_do_not_hang_a_read(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    os.mkfifo(scope / "pipe")
    outcome: list[object] = []

    def attempt() -> None:
        try:
            fs.read("/pipe")
        except Exception as exc:
            outcome.append(exc)

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(120)  # a guard against hanging the suite, not a speed check
    assert not reader.is_alive(), "reading a FIFO blocked"
    assert isinstance(outcome[0], PathForbidden)
    with pytest.raises(PathForbidden):
        list(fs.read_stream("/pipe"))
    assert fs.list("/") == []
    assert fs.remove("/pipe") == 1


def test_hard_links_are_not_read(unsafe: tuple[Files, Path], outside: Path) -> None:
    fs, scope = unsafe
    try:
        os.link(outside / "secret.txt", scope / "hard")
    except OSError:
        pytest.skip("the scope and the temp dir are on different filesystems")
    with pytest.raises(PathForbidden):
        fs.read("/hard")
    assert fs.list("/") == []
    with pytest.raises(PathForbidden):
        fs.write("/hard", b"replaced")
    assert fs.remove("/hard") == 1  # only this name goes
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_temporary_names_are_reserved_and_hidden(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    with pytest.raises(PathReserved):
        fs.write("/.sessionbox-tmp-abc", b"x")
    (scope / ".sessionbox-tmp-0123").write_bytes(b"left by a crash")
    assert fs.list("/") == []


def test_quota_counts_what_native_tools_wrote(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    (scope / "big.bin").write_bytes(b"x" * (6 * MiB))
    with pytest.raises(QuotaExceeded):
        fs.write("/more.bin", b"y" * (3 * MiB))
    assert not (scope / "more.bin").exists()
    (scope / "big.bin").unlink()
    fs.write("/more.bin", b"y" * (3 * MiB))


def test_invalid_native_names_are_skipped(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    (scope / "back\\slash").write_bytes(b"1")
    (scope / "ok").write_bytes(b"2")
    os.close(os.open(os.fsencode(scope) + b"/bad-\xff", os.O_CREAT | os.O_WRONLY, 0o644))
    assert [e.name for e in fs.list("/")] == ["ok"]


def test_deleting_the_session_removes_its_directory(
    box: sessionbox.Sessionbox, unsafe: tuple[Files, Path], agent: str
) -> None:
    fs, scope = unsafe
    fs.write("/a/b", b"1")
    session_id = scope.name if not box.store.url.startswith("dir:") else scope.parent.name
    box.delete_session(agent, session_id)
    assert not scope.exists()
    with pytest.raises(SessionNotFound):
        fs.read("/a/b")


def test_a_recreated_session_starts_empty(
    box: sessionbox.Sessionbox, store: Store, agent: str
) -> None:
    sid = f"unsafe_named_{secrets.token_hex(6)}"
    box.create_session(agent, sid)
    scope = store.scope_dir(agent, sid)
    assert scope is not None
    box.session(agent, sid).files.write("/old", b"1")
    box.delete_session(agent, sid)
    scope.mkdir(parents=True)
    (scope / "stale").write_bytes(b"left behind")  # e.g. a prune that forgot the disk
    box.create_session(agent, sid)
    assert box.session(agent, sid).files.list("/") == []
    with pytest.raises(Exists):
        box.create_session(agent, sid)
    assert box.session(agent, sid).files.list("/") == []


def test_dir_store_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path)
    absolute = open_store(f"dir:///{tmp_path / 'abs'}", settings)
    absolute.close()
    assert (tmp_path / "abs" / "catalog.db").exists()
    monkeypatch.chdir(tmp_path)
    relative = open_store("dir:///rel", settings)
    relative.create_session("a", "safe_named_x", "safe", "named")
    relative.close()
    assert (tmp_path / "rel" / "agents" / "a" / "sessions" / "safe_named_x" / "files").is_dir()


def test_tree_operations_never_follow_links_inside(
    unsafe: tuple[Files, Path], outside: Path
) -> None:
    fs, scope = unsafe
    fs.write("/tree/a.txt", b"a")
    (scope / "tree" / "escape").symlink_to(outside)
    with pytest.raises(PathForbidden):
        fs.copy("/tree", "/tree2")  # a copy would have to read through or drop the link
    assert not (scope / "tree2").exists()
    assert [e.name for e in fs.list("/tree")] == ["a.txt"]
    fs.rename("/tree", "/moved")
    assert (scope / "moved" / "escape").is_symlink()
    assert fs.remove("/moved", recursive=True) == 3  # the link itself is removed, not its target
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_directory_readonly_flag_and_moves_keep_etags(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    written = fs.write("/a/f.txt", b"1")
    moved = fs.rename("/a/f.txt", "/b/g.txt")
    assert moved.id == written.id and moved.etag == written.etag
    fs.make_dir("/locked")
    fs.set_readonly("/locked")
    assert fs.get_info("/locked").is_readonly
    fs.write("/other", b"x")
    with pytest.raises(ReadOnly):
        fs.rename("/other", "/locked", overwrite=True)
    assert (scope / "locked").is_dir()


def test_concurrent_writers_cannot_overshoot_the_quota(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    outcomes: list[str] = []

    def writer(i: int) -> None:
        try:
            fs.write(f"/w{i}.bin", bytes([i]) * (3 * MiB))
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("quota")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "ok", "quota", "quota"]
    assert sum(p.stat().st_size for p in scope.iterdir()) == 6 * MiB


def test_deleting_a_session_never_follows_links_out(
    box: sessionbox.Sessionbox, agent: str, outside: Path
) -> None:
    sid = f"unsafe_named_{secrets.token_hex(6)}"
    box.create_session(agent, sid)
    scope = box.store.scope_dir(agent, sid)
    assert scope is not None
    (scope / "link").symlink_to(outside)
    box.delete_session(agent, sid)
    assert not scope.exists()
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_bad_dir_urls_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        open_store("dir:///", Settings(data_dir=tmp_path))
    with pytest.raises(InvalidInput):
        open_store("dir://host/x", Settings(data_dir=tmp_path))


def test_deep_and_hidden_trees_neither_recurse_nor_leak(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    parts = ["d"] * 1200  # made by a native tool, deeper than Python's recursion limit
    fd = os.open(scope, os.O_RDONLY | os.O_DIRECTORY)
    for part in parts:  # os.makedirs itself recurses
        os.mkdir(part, dir_fd=fd)
        child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    leaf = os.open("leaf.txt", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
    os.write(leaf, b"bottom")
    os.close(leaf)
    os.close(fd)
    (scope / "back\\slash").mkdir()
    (scope / "back\\slash" / "inner.txt").write_bytes(b"unaddressable")
    (scope / ".env").mkdir()
    (scope / ".env" / "inside.txt").write_bytes(b"sensitive")
    found = fs.grep("bottom|unaddressable|sensitive")
    assert [f.path for f in found] == ["/" + "/".join(parts) + "/leaf.txt"]
    assert [e.name for e in fs.list("/")] == ["d"]
    assert fs.remove("/d", recursive=True) == 1201
    assert sorted(p.name for p in scope.iterdir()) == [".env", "back\\slash"]


def test_odd_native_timestamps_read_sanely(unsafe: tuple[Files, Path]) -> None:
    fs, scope = unsafe
    (scope / "future").write_bytes(b"1")
    os.utime(scope / "future", ns=(2**62, 2**62))
    (scope / "past").write_bytes(b"2")
    os.utime(scope / "past", ns=(-(2**62), -(2**62)))
    assert [e.name for e in fs.list("/")] == ["future", "past"]
    assert fs.read("/future") == b"1" and fs.get_info("/past").size_bytes == 1

"""The operator commands of issue 6: export/import (dir and tar), prune, gc."""

from __future__ import annotations

import os
from pathlib import Path

from typer.testing import CliRunner

import sessionbox
from sessionbox.cli import app
from sessionbox.config import Settings
from sessionbox.errors import ArchiveInvalid

runner = CliRunner()


LOG = "$ make\n" + "ok\n" * 3000  # over INLINE_BYTES: its blob is what gc collects


def _fill(url: str) -> None:
    with sessionbox.open(url, settings=Settings(store=url)) as box:
        box.create_session("agent", "safe_named_git")
        session = box.session("agent", "safe_named_git")
        session.files.write("/notes/today.md", "# notes\n")
        session.files.write("/bin.dat", bytes(range(256)))
        session.outputs.store_output(LOG, {"type": "terminal", "command": "make"})
        box.applets("agent").save("clock", name="Clock", html="<time>", js="tick()")


def test_dir_export_import_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _fill(url)
    first = tmp_path / "first.tar.gz"
    assert (
        runner.invoke(
            app, ["export", "agent", "safe_named_git", "--out", str(first), "--store", url]
        ).exit_code
        == 0
    )
    tree = tmp_path / "tree"
    result = runner.invoke(
        app,
        [
            "export",
            "agent",
            "safe_named_git",
            "--format",
            "dir",
            "--out",
            str(tree),
            "--store",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    base = tree / "sessions" / "safe_named_git"
    assert (base / "files" / "notes" / "today.md").read_text() == "# notes\n"
    assert (base / "outputs" / "out_1.txt").read_text() == LOG
    assert '"command": "make"' in (base / "outputs.json").read_text()
    assert (tree / "applets" / "clock" / "script.js").read_text() == "tick()"
    other = f"sqlite:///{tmp_path / 'b.db'}"
    result = runner.invoke(app, ["import", "agent", str(tree), "--store", other])
    assert result.exit_code == 0, result.output
    second = tmp_path / "second.tar.gz"
    runner.invoke(
        app, ["export", "agent", "safe_named_git", "--out", str(second), "--store", other]
    )
    assert second.read_bytes() == first.read_bytes()
    result = runner.invoke(
        app, ["import", "agent", str(first), "--session-id", "safe_named_two", "--store", other]
    )
    assert result.exit_code == 0, result.output
    with sessionbox.open(other, settings=Settings(store=other)) as box:
        assert box.session("agent", "safe_named_two").files.read("/bin.dat") == bytes(range(256))


def test_dir_import_refuses_links(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    tree = tmp_path / "tree" / "sessions" / "safe_named_x" / "files"
    tree.mkdir(parents=True)
    (tree / "ok.txt").write_text("ok")
    os.symlink("/etc/passwd", tree / "passwd")
    result = runner.invoke(app, ["import", "agent", str(tmp_path / "tree"), "--store", url])
    assert isinstance(result.exception, ArchiveInvalid)
    with sessionbox.open(url, settings=Settings(store=url)) as box:
        assert box.list_sessions("agent") == []


def test_prune_and_gc_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _fill(url)
    dry = runner.invoke(app, ["prune", "--outputs-older-than", "0s", "--dry-run", "--store", url])
    assert dry.exit_code == 0 and "would delete 0 session(s), 1 output(s)" in dry.output
    done = runner.invoke(app, ["prune", "--outputs-older-than", "0s", "--store", url])
    assert done.exit_code == 0 and "deleted 0 session(s), 1 output(s)" in done.output
    first = runner.invoke(app, ["gc", "--store", url])
    assert first.exit_code == 0 and "marked 1 unreferenced blob(s); removed 0" in first.output
    now = runner.invoke(app, ["gc", "--grace", "0s", "--store", url])
    assert now.exit_code == 0 and "removed 1" in now.output
    bad = runner.invoke(app, ["prune", "--outputs-older-than", "soon", "--store", url])
    assert bad.exit_code != 0

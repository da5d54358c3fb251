"""Progress bars on ``sessionbox export`` / ``import``: they count the real bytes moved."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

import sessionbox
from sessionbox import cli, cli_output
from sessionbox.cli import app
from sessionbox.cli_progress import CountedReader, bar, counted_items
from sessionbox.config import Settings
from sessionbox.services._archive import write_tar_gz
from sessionbox.services.transfer import TransferService

runner = CliRunner()
BLOB = os.urandom(1024 * 1024)  # incompressible: a real bomb check must not trip


def _terminal() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=True, width=120), buffer


def _fill(url: str) -> None:
    with sessionbox.open(url, settings=Settings(store=url)) as box:
        box.create_session("agent", "safe_named_big")
        files = box.session("agent", "safe_named_big").files
        files.write("/blob.bin", BLOB)
        files.write("/notes/a.md", "# a\n")


def test_export_items_advance_by_the_bytes_written(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _fill(url)
    console, _ = _terminal()
    with sessionbox.open(url, settings=Settings(store=url)) as box:
        service = TransferService(box.store, box.settings)
        with bar(console, transient=False) as progress:
            items = counted_items(service.export_items("agent", "safe_named_big"), progress, "x")
            task = progress.tasks[0]
            assert task.total is not None and task.total >= len(BLOB) + 4
            assert task.completed == 0
            archive = b"".join(write_tar_gz(items))
            assert task.completed == task.total
    assert len(archive) > 0


def test_counted_reader_reports_what_was_read() -> None:
    console, _ = _terminal()
    with bar(console, transient=False) as progress:
        task = progress.add_task("read", total=len(BLOB))
        reader = CountedReader(io.BytesIO(BLOB), progress, task)
        assert reader.read(1000) == BLOB[:1000]
        assert progress.tasks[0].completed == 1000
        assert reader.read() == BLOB[1000:]
        assert progress.tasks[0].completed == len(BLOB)


def test_disabled_off_a_terminal() -> None:
    quiet = Console(file=io.StringIO(), force_terminal=False)
    assert bar(quiet).disable
    console, _ = _terminal()
    assert not bar(console).disable and bar(console, enabled=False).disable


@pytest.mark.parametrize("fmt", ["tar", "dir"])
def test_cli_shows_bars_and_round_trips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _fill(url)
    console, shown = _terminal()
    monkeypatch.setattr(cli, "err", console)
    monkeypatch.setattr(cli_output, "err", console)
    out = tmp_path / ("x.tar.gz" if fmt == "tar" else "tree")
    args = ["export", "agent", "safe_named_big", "-o", str(out), "--format", fmt, "--store", url]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "export safe_named_big" in shown.getvalue()
    other = f"sqlite:///{tmp_path / 'b.db'}"
    result = runner.invoke(app, ["import", "agent", str(out), "--store", other])
    assert result.exit_code == 0, result.output
    text = shown.getvalue()
    assert f"read {out.name}" in text and "import (one transaction)" in text
    with sessionbox.open(other, settings=Settings(store=other)) as box:
        assert box.session("agent", "safe_named_big").files.read("/blob.bin") == BLOB


def test_no_progress_prints_no_bar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    _fill(url)
    console, shown = _terminal()
    monkeypatch.setattr(cli, "err", console)
    monkeypatch.setattr(cli_output, "err", console)
    out = tmp_path / "x.tar.gz"
    args = ["export", "agent", "safe_named_big", "-o", str(out), "--no-progress", "--store", url]
    assert runner.invoke(app, args).exit_code == 0
    assert "export safe_named_big" not in shown.getvalue() and "wrote" in shown.getvalue()

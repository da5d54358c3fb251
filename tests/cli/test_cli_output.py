"""CLI messages keep user and code text intact: nothing is printed as Rich markup (issue 21)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from sessionbox import cli

SRC = Path(cli.__file__).parent
CLI_MODULES = sorted(SRC.glob("cli*.py"))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == name)
            or (isinstance(node.func, ast.Name) and node.func.id == name)
        )
    ]


def _is_text(node: ast.expr) -> bool:
    """An expression that is a ``str`` Rich would parse: a literal, f-string, sum or choice."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.JoinedStr):
        return True
    return isinstance(node, ast.BinOp | ast.IfExp | ast.BoolOp)


def _is_cell(node: ast.expr) -> bool:
    """``cell(...)``, a choice of two, or ``*map(cell, ...)``."""
    if isinstance(node, ast.IfExp):
        return _is_cell(node.body) and _is_cell(node.orelse)
    if isinstance(node, ast.Starred) and isinstance(node.value, ast.Call):
        return any(isinstance(a, ast.Name) and a.id == "cell" for a in node.value.args)
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "cell"


@pytest.mark.parametrize("module", CLI_MODULES, ids=lambda p: p.name)
def test_cli_modules_print_no_string_as_markup(module: Path) -> None:
    """Messages go through ``cli_output.say``/``cell``; a progress bar's text is plain."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for call in _calls(tree, "print"):
        if module.name == "cli_output.py":
            continue
        assert call.args and not _is_text(call.args[0]), (
            f"{module.name}:{call.lineno}: print a string through cli_output.say"
        )
    for call in _calls(tree, "add_row"):
        assert all(_is_cell(arg) for arg in call.args), (
            f"{module.name}:{call.lineno}: table cells go through cli_output.cell"
        )
    for call in _calls(tree, "TextColumn"):
        markup = {k.arg: k.value for k in call.keywords}.get("markup")
        assert isinstance(markup, ast.Constant) and markup.value is False, (
            f"{module.name}:{call.lineno}: a progress description is plain text (markup=False)"
        )


def _main(monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setattr(sys, "argv", ["sessionbox", *argv])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    return int(exited.value.code or 0)


def test_the_missing_extra_message_prints_intact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without the postgres extra, the hint names it: ``'sessionbox[postgres]'``, not
    ``'sessionbox'``. The extra is made missing by hiding the store module from import."""
    monkeypatch.setitem(sys.modules, "sessionbox.store.postgres", None)
    code = _main(monkeypatch, "serve", "--data-dir", str(tmp_path), "--store", "postgresql://h/db")
    assert code == 2
    assert "PostgreSQL needs the extra: pip install 'sessionbox[postgres]'" in (
        capsys.readouterr().err
    )


def test_an_error_echoing_user_text_prints_it_intact(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 't.db'}"
    code = _main(
        monkeypatch, "token", "create", "--agent", "a", "--ttl", "[bold]9", "--store", store
    )
    assert code == 2 and "'[bold]9' is not a duration" in capsys.readouterr().err


def test_a_long_message_is_not_wrapped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A path or URL stays on one line a user can copy, whatever the terminal's width."""
    monkeypatch.setenv("COLUMNS", "40")
    code = _main(monkeypatch, "migrate", "--store", "mysql://" + "x" * 100)
    assert code == 2
    assert f"unknown store URL 'mysql://{'x' * 100}'" in capsys.readouterr().err

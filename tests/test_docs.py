"""Documentation tests: every setting, error code and CLI command is documented.

The lists come from the code (``Settings.model_fields``, ``errors.ERRORS_BY_CODE``,
the codes ``api/problems.py`` gives framework errors, the Typer app), so whatever
is added later must be documented in README.md or docs/DESIGN.md too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main

from sessionbox import errors
from sessionbox.api import problems
from sessionbox.cli import app as cli_app
from sessionbox.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(
    (ROOT / name).read_text(encoding="utf-8") for name in ("README.md", "docs/DESIGN.md")
)
FRAMEWORK_CODES = sorted({*problems._HTTP_CODES.values(), "body_invalid", "validation_failed"})


def documented(word: str) -> bool:
    """``word`` appears as a whole word (in code spans, tables or prose)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", DOCS) is not None


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_and_its_env_var_is_documented(name: str) -> None:
    assert documented(name), f"setting {name!r} is not in README.md or docs/DESIGN.md"
    env = f"SESSIONBOX_{name.upper()}"
    assert documented(env), f"{env} is not in README.md or docs/DESIGN.md"


@pytest.mark.parametrize("code", sorted(errors.ERRORS_BY_CODE))
def test_every_error_code_is_documented(code: str) -> None:
    assert documented(code), f"error code {code!r} is not in README.md or docs/DESIGN.md"


@pytest.mark.parametrize("code", FRAMEWORK_CODES)
def test_every_framework_problem_code_is_documented(code: str) -> None:
    assert documented(code), f"problem code {code!r} is not in README.md or docs/DESIGN.md"


def _commands() -> list[str]:
    group = typer.main.get_command(cli_app)
    assert isinstance(group, typer.main.TyperGroup)
    return sorted(group.commands)


def test_the_cli_has_commands() -> None:
    assert {"serve", "migrate"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_is_documented(command: str) -> None:
    assert re.search(rf"sessionbox {re.escape(command)}\b", DOCS), (
        f"`sessionbox {command}` is not in README.md or docs/DESIGN.md"
    )


def test_the_error_tree_in_errors_py_lists_every_class() -> None:
    """The hierarchy drawn in the module docstring stays in step with the classes."""
    tree = errors.__doc__ or ""
    for code, cls in errors.ERRORS_BY_CODE.items():
        row = rf"\b{cls.__name__}\b.*\s{cls.status} {re.escape(code)}$"
        assert re.search(row, tree, re.MULTILINE), f"errors.py tree lacks {cls.__name__} {code}"


# -- the reference tables of docs/DESIGN.md, row for row ------------------------------

DESIGN = (ROOT / "docs" / "DESIGN.md").read_text(encoding="utf-8")
MiB = 1024 * 1024


def _table(first_header: str) -> list[list[str]]:
    """The rows of the Markdown table whose header starts with ``first_header``."""
    lines = DESIGN.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def _default(text: str) -> object:
    """A default as the table writes it (``100 MiB``, ``10 000``, ``unset``), as a value."""
    if text == "unset":
        return None
    if text in ("true", "false"):
        return text == "true"
    number = text.replace(" ", "").removesuffix("MiB")
    if number.isdigit():
        return int(number) * (MiB if text.endswith("MiB") else 1)
    return text


def test_the_settings_table_is_the_settings_class() -> None:
    rows = {row[0].strip("`"): row for row in _table("setting")}
    assert set(rows) == set(Settings.model_fields)
    for name, field in Settings.model_fields.items():
        _, env, default, meaning = rows[name]
        assert env == f"`SESSIONBOX_{name.upper()}`"
        assert meaning == field.description, name
        wanted = field.default if not isinstance(field.default, Path) else str(field.default)
        assert _default(default) == wanted, name


def test_the_error_table_is_the_error_classes() -> None:
    rows = _table("status")
    classes = {(r[0], r[1].strip("`"), r[2].strip("`"), r[3]) for r in rows if r[2] != "framework"}
    assert classes == {
        (str(cls.status), code, cls.__name__, cls.title)
        for code, cls in errors.ERRORS_BY_CODE.items()
    }
    framework = {r[1].strip("`") for r in rows if r[2] == "framework"}
    assert framework == {*FRAMEWORK_CODES, "client_disconnected", "http_error"}


# -- docs/ARCHITECTURE.md names every module; docs/decisions/ has its index -----------

SRC = ROOT / "src" / "sessionbox"
ARCHITECTURE = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")


def test_every_module_is_in_the_architecture_map_and_every_listed_module_exists() -> None:
    section = ARCHITECTURE.split("## Modules", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", section, re.MULTILINE))
    modules = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.stat().st_size > 0  # an empty package marker says nothing
    }
    assert modules - listed == set(), "modules missing from docs/ARCHITECTURE.md"
    assert listed - modules == set(), "docs/ARCHITECTURE.md lists modules that do not exist"


def test_the_decision_index_lists_every_record() -> None:
    folder = ROOT / "docs" / "decisions"
    records = {path.name for path in folder.glob("*.md")} - {"README.md"}
    assert records, "no decision records"
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}-[a-z0-9-]+\.md", name) for name in records)
    index = set(re.findall(r"\]\(([^)]+\.md)\)", (folder / "README.md").read_text()))
    assert index == records


def test_the_design_page_has_no_logbook_headings() -> None:
    """What is true now, by topic: no heading names an issue, a stop or a round."""
    headings = [line for line in DESIGN.splitlines() if line.startswith("#")]
    assert not [h for h in headings if re.search(r"\b(issue|stop|round)\s*\d", h, re.I)]

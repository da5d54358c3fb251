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

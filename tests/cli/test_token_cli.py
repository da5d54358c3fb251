"""``sessionbox token create|list|revoke`` on the store directly, and the server honouring it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sessionbox.cli import app, positive_seconds
from sessionbox.config import Settings
from sessionbox.errors import InvalidInput, ModeMismatch, Unauthorized
from sessionbox.services.tokens import TokenService
from sessionbox.store import open_store

runner = CliRunner()


def test_create_list_revoke(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 't.db'}"
    created = runner.invoke(
        app,
        ["token", "create", "--agent", "a1", "--mode", "unsafe", "--session", "unsafe_named_x",
         "--read-only", "--ttl", "30d", "--store", store],
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("sbx_")
    opened = open_store(store, Settings(data_dir=tmp_path))
    try:
        record = TokenService(opened).authenticate(secret)
        assert (record.agent_id, record.mode, record.session_id, record.read_only) == (
            "a1", "unsafe", "unsafe_named_x", True
        )  # fmt: skip
        assert record.expires_at is not None
        assert (record.expires_at - record.created_at).total_seconds() == 30 * 86400
    finally:
        opened.close()
    listed = runner.invoke(app, ["token", "list", "--store", store])
    assert listed.exit_code == 0 and record.id in listed.stdout and secret not in listed.stdout
    revoked = runner.invoke(app, ["token", "revoke", record.id, "--store", store])
    assert revoked.exit_code == 0, revoked.output
    opened = open_store(store, Settings(data_dir=tmp_path))
    try:
        with pytest.raises(Unauthorized):
            TokenService(opened).authenticate(secret)
    finally:
        opened.close()


def test_on_postgres(postgres_url: str) -> None:
    created = runner.invoke(app, ["token", "create", "--agent", "pg-a", "--store", postgres_url])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["token", "list", "--agent", "pg-a", "--store", postgres_url])
    assert listed.exit_code == 0 and "pg-a" in listed.stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--agent", "a", "--mode", "root"], InvalidInput),
        (["--agent", "-a"], InvalidInput),
        (["--agent", "a", "--session", "unsafe_named_x"], ModeMismatch),
    ],
)
def test_create_refuses(tmp_path: Path, args: list[str], error: type[Exception]) -> None:
    store = f"sqlite:///{tmp_path / 't.db'}"
    result = runner.invoke(app, ["token", "create", *args, "--store", store])
    assert isinstance(result.exception, error)


def test_errors_exit_cleanly(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 't.db'}"
    result = subprocess.run(
        [sys.executable, "-m", "sessionbox.cli", "token", "revoke", "nope", "--store", store],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 4 and "Token not found" in result.stderr
    bad_ttl = subprocess.run(
        [sys.executable, "-m", "sessionbox.cli", "token", "create", "--agent", "a",
         "--ttl", "soon", "--store", store],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad_ttl.returncode == 2 and "not a duration" in bad_ttl.stderr


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1.5h", 5400), ("30d", 2592000), ("2w", 1209600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert positive_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5", "m", "d30", "5y"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidInput):
        positive_seconds(text)

"""The operator CLI: serve (as a real process), migrate, and its refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from sessionbox.cli import app, is_loopback

runner = CliRunner()


def test_serve_refuses_public_bind_without_token(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SESSIONBOX_ADMIN_TOKEN"}
    result = runner.invoke(
        app, ["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)], env=env
    )
    assert result.exit_code == 2
    assert "refusing" in result.output


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3")


def test_migrate_creates_the_schema_once(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'm.db'}"
    first = runner.invoke(app, ["migrate", "--store", store])
    assert first.exit_code == 0 and "0001_initial" in first.output
    second = runner.invoke(app, ["migrate", "--store", store])
    assert second.exit_code == 0 and "none pending" in second.output


def test_migrate_on_postgres(postgres_url: str) -> None:
    result = runner.invoke(app, ["migrate", "--store", postgres_url])
    assert result.exit_code == 0, result.output


def test_bad_store_url_is_a_clean_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sessionbox.cli", "migrate", "--store", "mysql://x"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "unknown store URL" in result.stderr


def test_serve_runs_as_a_real_process(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionbox.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, "server exited"
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert health.json() == {"status": "ok"}
        assert (tmp_path / ".sessionbox" / "sessionbox.db").exists()
    finally:
        process.terminate()
        process.wait(10)

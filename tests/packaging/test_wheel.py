"""A wheel a user can install (issue 21): ``python -m build`` makes an sdist and, from it, a
wheel; both carry the web assets and the SQL migrations; the wheel installed into a fresh
virtual environment (no repository on the path, no extras) serves every kind of request.

The build and the environment are made once per test run and shared by the xdist workers
(a file lock, as pytest-xdist's docs suggest). Packages come from the lock file's versions
through uv's cache (``make`` installs the same ones), so the install needs no registry once
the cache is warm; only the isolated build fetches hatchling when it is not cached.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "sessionbox"
UV = ROOT / ".tools" / "bin" / "uv"


def _data_files() -> list[str]:
    """The package's non-Python files a running server reads: UI assets and migrations."""
    found = [
        *(PACKAGE / "web" / "static").rglob("*"),
        *(PACKAGE / "store" / "migrations").rglob("*.sql"),
    ]
    return sorted(str(p.relative_to(PACKAGE.parent)) for p in found if p.is_file())


def _clean_env() -> dict[str, str]:
    """No repository on the path and no sessionbox settings from the caller."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("SESSIONBOX_")
    }


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_clean_env(), capture_output=True, text=True
    )


def _check(*args: str | Path, cwd: Path | None = None) -> str:
    done = _run(*args, cwd=cwd)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="session")
def shared_dir(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """A directory every xdist worker of this run sees (the run's base temp dir)."""
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def _once(directory: Path, make: object) -> Path:
    """``make(directory)`` by the first worker to get here; the others wait and reuse it."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with (directory.parent / f"{directory.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = directory / ".done"
        if not done.exists():
            shutil.rmtree(directory, ignore_errors=True)
            directory.mkdir()
            make(directory)  # type: ignore[operator]
            done.touch()
    return directory


@pytest.fixture(scope="session")
def dist(shared_dir: Path) -> Path:
    """``python -m build``: the sdist, then the wheel built from that sdist."""

    def build(out: Path) -> None:
        env_path = f"{UV.parent}{os.pathsep}{os.environ.get('PATH', '')}"
        done = subprocess.run(
            [sys.executable, "-m", "build", "--installer", "uv", "--outdir", str(out), str(ROOT)],
            env={**_clean_env(), "PATH": env_path},
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    return _once(shared_dir / "sessionbox-dist", build)


@pytest.fixture(scope="session")
def venv(dist: Path, shared_dir: Path) -> Path:
    """A fresh virtual environment with the wheel and the core's locked dependencies only."""

    def install(target: Path) -> None:
        requirements = target / "requirements.txt"
        _check(UV, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
               "--quiet", "-o", requirements, cwd=ROOT)  # fmt: skip
        _check(UV, "venv", "--quiet", "--python", sys.executable, target / "env")
        wheel = next(dist.glob("sessionbox-*.whl"))
        python = target / "env" / "bin" / "python"
        _check(UV, "pip", "install", "--quiet", "--python", python, "-r", requirements, wheel)

    return _once(shared_dir / "sessionbox-venv", install) / "env"


def test_the_sdist_and_the_wheel_carry_the_web_assets_and_migrations(dist: Path) -> None:
    wanted = _data_files()
    assert any(name.endswith("index.html") for name in wanted)
    assert any("/sqlite/" in name for name in wanted) and any(
        "/postgres/" in name for name in wanted
    )
    with zipfile.ZipFile(next(dist.glob("sessionbox-*.whl"))) as wheel:
        in_wheel = set(wheel.namelist())
    assert [name for name in wanted if name not in in_wheel] == []
    with tarfile.open(next(dist.glob("sessionbox-*.tar.gz"))) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert [name for name in wanted if f"src/{name}" not in in_sdist] == []
    with zipfile.ZipFile(next(dist.glob("sessionbox-*.whl"))) as wheel:
        index = wheel.read("sessionbox/web/static/ui/index.html")
    assert index == (PACKAGE / "web" / "static" / "ui" / "index.html").read_bytes()


def test_the_installed_package_is_the_wheel_not_the_repository(venv: Path, tmp_path: Path) -> None:
    where = _check(venv / "bin" / "python", "-c", "import sessionbox; print(sessionbox.__file__)",
                   cwd=tmp_path)  # fmt: skip
    assert Path(where.strip()).is_relative_to(venv)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(venv: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    """``sessionbox serve`` of the installed wheel, on SQLite in a fresh data directory."""
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [venv / "bin" / "sessionbox", "serve", "--port", str(port), "--data-dir", "data"],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    assert process.poll() is None, (tmp_path / "serve.log").read_text()
                    assert time.monotonic() < deadline, "the installed server did not start"
                    time.sleep(0.1)
            yield client
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def test_the_installed_wheel_serves_every_kind_of_request(
    served: httpx.Client, tmp_path: Path, venv: Path
) -> None:
    http = served
    assert http.get("/healthz").json() == {"status": "ok"}
    page = http.get("/ui/sessions")
    assert page.status_code == 200
    assert page.content == (PACKAGE / "web" / "static" / "ui" / "index.html").read_bytes()
    for asset in ("ui/app.js", "ui/app.css", "vendor/codemirror.js", "sessionbox.js"):
        assert http.get(f"/static/{asset}").status_code == 200, asset
    created = http.post("/v1/agents/wheel/sessions", json={})
    assert created.status_code == 201, created.text
    base = f"/v1/agents/wheel/sessions/{created.json()['id']}"
    assert http.put(f"{base}/fs/docs/a.md", content=b"# hi\n").status_code in (200, 201)
    assert http.get(f"{base}/fs/docs/a.md", params={"raw": 1}).content == b"# hi\n"
    assert [e["name"] for e in http.get(f"{base}/fs/docs").json()["data"]] == ["a.md"]
    envelope = {"version": 1, "updatedAt": 1731576000000, "handleKey": None, "snapshot": {}}
    assert http.put(f"{base}/snapshot", json=envelope).status_code == 200
    assert http.get(f"{base}/snapshot").json() == envelope
    output = http.post(
        f"{base}/outputs", json={"data": "$ ls\na b", "metadata": {"type": "terminal"}}
    )
    assert output.status_code == 201, output.text
    assert http.get(f"{base}/outputs/{output.json()['id']}").json()["data"] == "$ ls\na b"
    applet = http.put("/v1/agents/wheel/applets/clock", json={"name": "Clock", "html": "<time>"})
    assert applet.status_code in (200, 201), applet.text
    assert "<time>" in http.get("/v1/agents/wheel/applets/clock/view").text
    export = http.get(f"{base}/export")
    assert export.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(export.content), mode="r:gz") as archive:
        assert any(name.endswith("docs/a.md") for name in archive.getnames())
    assert http.delete(f"{base}/fs/docs/a.md").status_code in (200, 204)
    assert http.get(f"{base}/fs/docs/a.md").status_code == 404
    migrated = _run(venv / "bin" / "sessionbox", "migrate", "--data-dir", "data", cwd=tmp_path)
    assert migrated.returncode == 0 and "none pending" in migrated.stderr, migrated.stderr


def test_the_installed_wheel_migrates_a_new_store(venv: Path, tmp_path: Path) -> None:
    first = _run(venv / "bin" / "sessionbox", "migrate", "--data-dir", "fresh", cwd=tmp_path)
    assert first.returncode == 0 and "0001_initial" in first.stderr, first.stderr
    assert (tmp_path / "fresh" / "sessionbox.db").exists()


def test_without_the_postgres_extra_the_message_names_it(venv: Path, tmp_path: Path) -> None:
    """The extra really is missing here (no psycopg in the environment)."""
    done = _run(venv / "bin" / "sessionbox", "migrate", "--store", "postgresql://127.0.0.1:1/x",
                cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2
    assert "PostgreSQL needs the extra: pip install 'sessionbox[postgres]'" in done.stderr

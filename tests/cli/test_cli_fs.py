"""``sessionbox fs``: the same commands against a store URL and a live server, on each store."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

import sessionbox
from sessionbox.cli import app
from tests.conftest import LiveServer

runner = CliRunner()
TARGETS = ["store-sqlite", "store-postgres", "url-sqlite", "url-postgres"]
Run = Callable[..., Result]


@pytest.fixture(params=TARGETS)
def run(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    agent: str,
    postgres_url: str,
    server_for: Callable[[str], LiveServer],
) -> Run:
    """``run("ls", "/")`` runs ``sessionbox fs -a <agent> -s <session> <where> ls /``."""
    how, kind = request.param.split("-")
    if how == "url":
        where = ["--url", server_for(kind).url]
        with sessionbox.Client(server_for(kind).url) as client:
            session = client.create_session(agent).id
    else:
        url = postgres_url if kind == "postgres" else f"sqlite:///{tmp_path / 'cli.db'}"
        where = ["--store", url]
        with sessionbox.open(url) as box:
            session = box.create_session(agent).id
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}

    def invoke(*args: str, input: bytes | None = None) -> Result:
        argv = ["fs", "-a", agent, "-s", session, *where, "--no-progress", *args]
        return runner.invoke(app, argv, input=input, env=env)

    return invoke


def test_put_ls_cat_get(run: Run, tmp_path: Path) -> None:
    data = os.urandom(1_500_000)
    local = tmp_path / "blob.bin"
    local.write_bytes(data)
    put = run("--json", "put", str(local), "/data/blob.bin")
    assert put.exit_code == 0, put.output
    assert json.loads(put.stdout)["size_bytes"] == len(data)
    listing = run("--json", "ls", "/data")
    assert [e["name"] for e in json.loads(listing.stdout)] == ["blob.bin"]
    assert run("cat", "/data/blob.bin").stdout_bytes == data
    target = tmp_path / "back.bin"
    got = run("get", "/data/blob.bin", str(target))
    assert got.exit_code == 0, got.output
    assert target.read_bytes() == data and not (tmp_path / "back.bin.part").exists()
    table = run("ls", "/")
    assert table.exit_code == 0 and "data/" in table.stdout


def test_stdin_and_stdout(run: Run) -> None:
    assert run("put", "-", "/notes/a.md", input=b"# [hi]\n").exit_code == 0
    assert run("get", "/notes/a.md", "-").stdout_bytes == b"# [hi]\n"
    table = run("ls", "/notes")
    assert "a.md" in table.stdout and "text/markdown" in table.stdout


def test_mv_cp_rm_mkdir(run: Run) -> None:
    run("put", "-", "/a.txt", input=b"alpha\n")
    assert run("mv", "/a.txt", "/b.txt").exit_code == 0
    assert run("cp", "/b.txt", "/c.txt").exit_code == 0
    conflict = run("cp", "/b.txt", "/c.txt")
    assert conflict.exit_code == sessionbox.Exists.exit_code and "exists" in conflict.stderr
    assert run("cp", "-f", "/b.txt", "/c.txt").exit_code == 0
    assert run("mkdir", "/d/e").exit_code == 0
    assert run("mv", "/c.txt", "/d/e/c.txt").exit_code == 0
    listing = json.loads(run("--json", "ls", "/").stdout)
    assert [e["name"] for e in listing] == ["b.txt", "d"]
    not_empty = run("rm", "/d")
    assert not_empty.exit_code == sessionbox.DirectoryNotEmpty.exit_code
    removed = run("--json", "rm", "-r", "/d")
    assert json.loads(removed.stdout) == {"deleted": 3}


def test_grep(run: Run) -> None:
    run("put", "-", "/src/main.rs", input=b"fn main() {}\nlet x = [1];\n")
    run("put", "-", "/src/lib.py", input=b"def main(): pass\n")
    found = run("grep", "main", "/src", "-g", "*.rs")
    assert found.exit_code == 0 and found.stdout == "/src/main.rs:1:fn main() {}\n"
    brackets = run("grep", r"\[1\]")
    assert "let x = [1];" in brackets.stdout
    as_json = json.loads(run("--json", "grep", "main").stdout)
    assert [(m["path"], m["line_number"]) for m in as_json] == [
        ("/src/lib.py", 1),
        ("/src/main.rs", 1),
    ]
    assert run("grep", "nothing-here").exit_code == 1
    bad = run("grep", "(")
    assert bad.exit_code == sessionbox.PatternInvalid.exit_code and "pattern" in bad.stderr


def test_errors_exit_with_their_class_code(run: Run, tmp_path: Path) -> None:
    missing = run("cat", "/nope")
    assert missing.exit_code == sessionbox.NotFound.exit_code == 4
    assert "Not found" in missing.stderr and missing.stdout == ""
    as_json = run("--json", "cat", "/nope")
    assert json.loads(as_json.stderr)["code"] == "not_found"
    reserved = run("put", "-", "/_x", input=b"x")
    assert reserved.exit_code == sessionbox.PathReserved.exit_code == 2
    bad_path = run("ls", "/a/../b")
    assert bad_path.exit_code == 2 and "path" in bad_path.stderr.lower()
    no_file = run("put", str(tmp_path / "absent"), "/x")
    assert no_file.exit_code == 4
    first = json.loads(run("--json", "put", "-", "/v.txt", input=b"1").stdout)
    run("put", "-", "/v.txt", input=b"2")
    stale = run("put", "--etag", first["etag"], "-", "/v.txt", input=b"3")
    assert stale.exit_code == sessionbox.PreconditionFailed.exit_code
    assert run("cat", "/v.txt").stdout == "2"


def test_unknown_session_is_not_found(tmp_path: Path, agent: str) -> None:
    store = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(app, ["fs", "-a", agent, "-s", "safe_named_x", "--store", store, "ls"])
    assert result.exit_code == 4 and "Session not found" in result.stderr


def test_progress_bars_do_not_disturb_the_output(tmp_path: Path, agent: str) -> None:
    store = f"sqlite:///{tmp_path / 'p.db'}"
    with sessionbox.open(store) as box:
        session = box.create_session(agent).id
    local = tmp_path / "up.bin"
    local.write_bytes(b"z" * 3_000_000)
    base = ["fs", "-a", agent, "-s", session, "--store", store]
    assert runner.invoke(app, [*base, "put", str(local), "/up.bin"]).exit_code == 0
    got = runner.invoke(app, [*base, "get", "/up.bin", str(tmp_path / "down.bin")])
    assert got.exit_code == 0 and "saved /up.bin" in got.stderr
    assert (tmp_path / "down.bin").read_bytes() == local.read_bytes()


def test_bracketed_names_print_intact(run: Run) -> None:
    """Rich would read ``[2024]`` or ``[bold]`` as markup and drop it (issue 21)."""
    wrote = run("put", "-", "/runs/[2024]/a[bold]b.csv", input=b"x")
    assert wrote.exit_code == 0 and "wrote /runs/[2024]/a[bold]b.csv (1 bytes)" in wrote.stderr
    top = run("ls", "/runs")
    assert top.exit_code == 0 and "[2024]/" in top.stdout
    inner = run("ls", "/runs/[2024]")
    assert "a[bold]b.csv" in inner.stdout
    missing = run("cat", "/runs/[red]gone[/red]")
    assert missing.exit_code == 4 and "[red]gone[/red]" in missing.stderr
    run("put", "-", "/g.txt", input=b"list = [red]\n")
    assert run("grep", "red").stdout == "/g.txt:1:list = [red]\n"

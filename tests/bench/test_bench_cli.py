"""``sessionbox bench --quick`` end to end with tiny N: the JSON shape, never the speed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from sessionbox.cli import app
from tests import _postgres

CONTENDERS = {
    "fs tmpfs",
    "fs disk",
    "raw sqlite3",
    "raw sqlite3 same tx",
    "raw psycopg",
    "sb sqlite",
    "sb postgresql",
    "sb http sqlite",
    "sb http postgresql",
    "sb http sqlite 2 workers",
    "sb http postgresql 2 workers",
    "HTTP floor",
    "HTTP FastAPI route",
    "AgentFS",
}
RESULT_KEYS = {
    "workload",
    "contender",
    "n",
    "ops",
    "seconds",
    "ops_per_s",
    "p50_us",
    "p99_us",
    "mib_per_s",
    "bytes",
    "rss_growth_mib",
    "files",
    "truncated",
    "note",
    "status",
    "client_cpu_s",
    "server_cpu_s",
    "errors",
}


def _bench_databases(admin: str) -> set[str]:
    with psycopg.connect(admin, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'sb_bench_%'")
        return {row[0] for row in rows}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    admin = _postgres.admin_url()
    scratch = tmp_path_factory.mktemp("bench-scratch")
    before = _bench_databases(admin)
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    saved, tempfile.tempdir = tempfile.tempdir, str(scratch)
    try:
        args = ["bench", "--quick", "--n", "10", "--out", str(out)]
        args += ["--store", "sqlite:///", "--store", admin, "--store", "dir:///"]
        result = CliRunner().invoke(app, args)
    finally:
        tempfile.tempdir = saved
    assert result.exit_code == 0, result.output
    assert list(scratch.iterdir()) == [], "the bench left temporary files behind"
    assert _bench_databases(admin) <= before, "the bench left its PostgreSQL database behind"
    data: dict[str, object] = json.loads(out.read_text())
    data["_output"] = result.output
    return data


def test_machine_is_recorded(run: dict[str, object]) -> None:
    meta = run["meta"]
    assert isinstance(meta, dict)
    for key in (
        "nproc",
        "ram_gib",
        "kernel",
        "python",
        "sqlite",
        "postgresql",
        "load_average_start",
    ):
        assert meta.get(key), key


def test_every_contender_ran_every_workload_without_error(run: dict[str, object]) -> None:
    results = run["results"]
    assert isinstance(results, list)
    for row in results:
        assert set(row) == RESULT_KEYS
        assert row["status"] in {"ok", "n/a", "skipped"}, row
    ran = {r["contender"] for r in results if r["status"] == "ok"}
    assert ran >= CONTENDERS
    sb = {r["workload"] for r in results if r["contender"] == "sb sqlite" and r["status"] == "ok"}
    assert sb >= {
        "create",
        "read",
        "stat",
        "list 10-entry dir",
        "overwrite If-Match",
        "grep",
        "move 100-file dir",
        "copy 100-file dir",
        "delete 100-file dir",
        "write 1 MiB",
        "read 1 MiB",
        "stream in",
        "stream out",
        "list 10-entry dir @10 files",
        "list 10-entry dir @100 files",
    }
    http = {r["contender"] for r in results if r["workload"] == "HTTP GET raw c=32"}
    assert http == {c for c in CONTENDERS if c.startswith(("HTTP", "sb http"))}
    for contender in ("sb http sqlite", "sb http postgresql"):
        mine = {r["workload"] for r in results if r["contender"] == contender}
        assert mine >= {
            "HTTP GET raw c=32",
            "HTTP GET JSON c=32",
            "HTTP list 10-entry dir c=32",
            "HTTP PUT raw overwrite c=32",
            "HTTP POST new file c=32",
            "HTTP GET raw c=1",
            "HTTP GET raw c=32 scoped token",
            "stream in",
            "stream out",
        }
    for row in results:
        if row["status"] == "ok":
            assert row["ops"] > 0 and row["p50_us"] > 0 and row["p99_us"] >= row["p50_us"]
        if row["workload"].startswith("HTTP ") and row["status"] == "ok":
            # wrk's rows: both sides' CPU is recorded, and no request failed
            assert row["client_cpu_s"] > 0 and row["server_cpu_s"] > 0, row
            assert row["errors"] == 0, row


def test_unavailable_store_is_a_row_not_a_silence(run: dict[str, object]) -> None:
    results = run["results"]
    assert isinstance(results, list)
    rows = [r for r in results if r["contender"] == "sb dir"]
    assert rows, "the dir:/// store neither ran nor said why"
    skipped = [r for r in rows if r["status"] == "skipped"]
    assert all("not available in this build" in r["note"] for r in skipped)


def test_targets_are_ratios_with_a_verdict(run: dict[str, object]) -> None:
    found = run["targets"]
    assert isinstance(found, list) and found
    names = " | ".join(t["target"] for t in found)
    for needle in (
        "raw sqlite3",
        "AgentFS",
        "floor GET",
        "scoped token / open server",
        "p50 / floor p50",
        "grep -r",
        "RSS",
        "local file copy",
        "list",
    ):
        assert needle in names
    for floor in ("raw sqlite3 same tx", "raw sqlite3"):  # issue 3's target, both readings
        for workload in ("create", "read"):
            assert f"{workload} N=10: sb sqlite / {floor}" in names.split(" | ")
    for t in found:
        assert t["met"] in (True, False, None)
        if t["value"] is not None:
            assert t["met"] is not None


def test_table_and_compare(run: dict[str, object], tmp_path: Path) -> None:
    output = run["_output"]
    assert isinstance(output, str)
    assert "sessionbox bench" in output and "targets" in output
    old = tmp_path / "old.json"
    old.write_text(json.dumps({k: v for k, v in run.items() if k != "_output"}))
    md = tmp_path / "RESULTS.md"
    args = ["bench", "--quick", "--n", "10", "--only", "raw sqlite3", "--compare", str(old)]
    result = CliRunner().invoke(app, [*args, "--markdown", str(md)])
    assert result.exit_code == 0, result.output
    assert "compared with" in result.output and "raw sqlite3" in result.output
    tables = md.read_text()
    assert "| target |" in tables and "| create | 10 | raw sqlite3 |" in tables

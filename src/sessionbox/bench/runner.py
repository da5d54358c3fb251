"""One bench run: build the contenders, run every workload on each, clean up."""

from __future__ import annotations

import functools
import os
import platform
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console

from sessionbox.bench._measure import Result
from sessionbox.bench.contender import Contender, Unsupported
from sessionbox.bench.inprocess import AGENT, InProcess
from sessionbox.bench.workloads import Plan, Session, content, file_path

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
Factory = Callable[..., Contender]


@dataclass
class Run:
    plan: Plan
    results: list[Result] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


def _is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    """A database of the bench's own on the server, dropped at the end."""
    import psycopg

    name = f"sb_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def machine(postgres_url: str | None) -> dict[str, Any]:
    """What the numbers were measured on, recorded next to them."""
    meminfo = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()
    info: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "ram_gib": round(int(meminfo[1]) / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_start": os.getloadavg(),
    }
    with suppress(OSError, IndexError):
        model = [ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if "model name" in ln]
        info["cpu"] = model[0].split(":", 1)[1].strip()
    if postgres_url:
        with suppress(Exception):
            import psycopg

            with psycopg.connect(postgres_url, connect_timeout=5) as conn:
                info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    with suppress(Exception):
        info["git"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    return info


def contenders(
    stores: list[str], scratch: Path, pg: str | None, pg_error: str
) -> list[tuple[str, Factory | str]]:
    """(name, factory) pairs, or (name, reason) for a contender that cannot run here."""
    from sessionbox.bench.agentfs import AgentFs
    from sessionbox.bench.http import HttpFastapi, HttpFloor, SessionboxHttp
    from sessionbox.bench.localfs import LocalFs
    from sessionbox.bench.rawdb import RawPostgres, RawSqlite
    from sessionbox.bench.sametx import RawSqliteSameTx

    out: list[tuple[str, Factory | str]] = []
    counter = iter(range(1_000_000))
    # The HTTP references first: every HTTP ratio is to the floor of the same run.
    out.append(("HTTP floor", HttpFloor))
    out.append(("HTTP FastAPI route", HttpFastapi))
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    out.append(("fs tmpfs", (lambda: LocalFs("fs tmpfs", shm)) if shm else "no /dev/shm"))
    out.append(("fs disk", lambda: LocalFs("fs disk", str(scratch))))
    out.append(("raw sqlite3", RawSqlite))
    out.append(
        ("raw sqlite3 same tx", lambda: RawSqliteSameTx(scratch / f"same-tx-{next(counter)}"))
    )
    out.append(("raw psycopg", (lambda: RawPostgres(pg, secrets.token_hex(4))) if pg else pg_error))
    for url in stores:
        scheme = url.split(":", 1)[0]
        kind = "postgresql" if _is_postgres(url) else scheme
        if _is_postgres(url) and pg is None:
            out.append((f"sb {kind}", pg_error))
            out.append((f"sb http {kind}", pg_error))
            continue
        given = pg if _is_postgres(url) else url

        def inproc(given: str | None = given, kind: str = kind) -> Contender:
            n = next(counter)
            target = resolve_store(given or "", scratch, n)
            return InProcess(f"sb {kind}", target, scratch / f"sb-{kind}-{n}")

        out.append((f"sb {kind}", inproc))
        if kind in ("sqlite", "postgresql"):
            for workers in (1, 2):
                label = f"sb http {kind}" + (f" {workers} workers" if workers > 1 else "")

                def http(
                    size: int, given: str | None = given, workers: int = workers, label: str = label
                ) -> Contender:
                    n = next(counter)
                    target = resolve_store(given or "", scratch, n)
                    return SessionboxHttp(label, target, scratch / f"http-{n}", size, workers)

                out.append((label, http))
    out.append(("AgentFS", AgentFs))
    return out


def resolve_store(url: str, scratch: Path, n: int) -> str:
    """A fresh database file per sqlite contender instance, so runs never share one."""
    if url in ("sqlite", "sqlite:///"):
        return f"sqlite:///{scratch}/sb-{n}.db"
    if url in ("dir", "dir:///"):
        return f"dir:///{scratch}/dir-{n}"
    return url


def run(
    plan: Plan,
    stores: list[str] | None,
    console: Console,
    only: set[str] | None = None,
    progress: Callable[[Run], None] | None = None,
) -> Run:
    """Every contender on every workload; results in the order they ran."""
    postgres_admin = os.environ.get("SESSIONBOX_TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    given = stores or ["sqlite", postgres_admin, "dir"]
    given = ["sqlite" if u == "sqlite:///" else u for u in given]
    pg_urls = [u for u in given if _is_postgres(u)]
    scratch = Path(tempfile.mkdtemp(prefix="sb-bench-"))
    outcome = Run(plan)
    try:
        with _postgres(pg_urls[0] if pg_urls else None) as (pg, pg_error):
            outcome.meta = machine(pg)
            for name, factory in contenders(given, scratch, pg, pg_error):
                if only and name not in only:
                    continue
                if isinstance(factory, str):
                    outcome.results.append(Result("*", name, 0, status="skipped", note=factory))
                    console.print(f"[yellow]{name}: skipped[/] ({factory})")
                    continue
                _run_contender(name, factory, plan, scratch, outcome, console)
                if progress is not None:
                    progress(outcome)
        outcome.meta["load_average_end"] = os.getloadavg()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return outcome


@contextmanager
def _postgres(admin: str | None) -> Iterator[tuple[str | None, str]]:
    if admin is None:
        yield None, "no PostgreSQL URL given"
        return
    try:
        database = bench_database(admin)
        url = database.__enter__()
    except Exception as exc:
        yield None, f"PostgreSQL at {admin} not reachable: {type(exc).__name__}: {exc}"[:300]
        return
    try:
        yield url, ""
    finally:
        database.__exit__(None, None, None)


def _run_contender(
    name: str, factory: Factory, plan: Plan, scratch: Path, outcome: Run, console: Console
) -> None:
    if name.startswith(("HTTP ", "sb http ")):
        _run_http(name, factory, plan, scratch, outcome, console)
        return
    for position, n in enumerate(plan.sizes):
        console.print(f"[bold]{name}[/] N={n} ...")
        try:
            contender = factory()
        except (Unsupported, Exception) as exc:
            reason = str(exc)
            if "unknown store URL" in reason:
                reason = f"not available in this build: {reason}"
            outcome.results.append(Result("*", name, n, status="skipped", note=reason[:300]))
            console.print(f"[yellow]{name}: skipped[/] ({reason[:200]})")
            return
        session = Session(contender, n, plan, scratch)
        try:
            session.run_sized()
            if position == 0:
                session.run_trees()
                session.run_large()
                if isinstance(contender, InProcess):
                    list_scale(contender, plan, session)
        finally:
            outcome.results.extend(session.results)
            contender.close()


def _run_http(
    name: str,
    factory: Callable[..., Contender],
    plan: Plan,
    scratch: Path,
    outcome: Run,
    console: Console,
) -> None:
    """The wrk scenarios at the largest N (the issue's 10,000 files), then the streams."""
    from sessionbox.bench.http import HttpContender, SessionboxHttp

    n = max(plan.sizes)
    console.print(f"[bold]{name}[/] N={n} (wrk, {plan.http_seconds:g} s a row) ...")
    try:
        contender = factory(n) if name.startswith("sb http") else factory()
    except Exception as exc:
        outcome.results.append(Result("*", name, n, status="skipped", note=str(exc)[:300]))
        console.print(f"[yellow]{name}: skipped[/] ({str(exc)[:200]})")
        return
    try:
        assert isinstance(contender, HttpContender)
        outcome.results.extend(contender.run_http(n, plan.http_seconds))
        if isinstance(contender, SessionboxHttp) and contender.workers == 1:
            outcome.results.extend(contender.run_streams(plan.stream_mib, scratch))
    finally:
        contender.close()


def list_scale(contender: InProcess, plan: Plan, session: Session) -> None:
    """Listing a 10-entry directory in a session of few files and in one of many."""
    data = content(1)
    for size in plan.scale:
        sid = contender.new_session()
        try:
            paths = [file_path(i) for i in range(size)]
            held = contender.fill(sid, paths, data, budget_s=max(3 * plan.budget_s, 300.0))
            dirs = [f"/t/d{(d * 7919) % max(held // 10, 1):05d}" for d in range(plan.list_ops)]
            listing = functools.partial(contender.list_in, sid)
            workload = f"list 10-entry dir @{size} files"
            if session.measure(workload, dirs, listing, size):
                found = session.results[-1]
                found.files = held
                if held < size:
                    found.note = (
                        f"the session holds only {held} files: its fill hit the time budget"
                    )
        finally:
            contender.box.delete_session(AGENT, sid)


def as_json(outcome: Run) -> dict[str, Any]:
    from sessionbox.bench.report import targets

    return {
        "version": 1,
        "meta": outcome.meta,
        "plan": asdict(outcome.plan),
        "results": [r.as_json() for r in outcome.results],
        "targets": targets(outcome.results, outcome.plan),
    }

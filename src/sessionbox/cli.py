"""The ``sessionbox`` command: serve, migrate, and operator tools."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sessionbox.cli_fs import fs_app
from sessionbox.cli_integrations import register as register_integrations
from sessionbox.cli_output import cell, err, say
from sessionbox.config import Settings
from sessionbox.errors import InvalidInput, SessionboxError

if TYPE_CHECKING:
    from sessionbox.store import Store

app = typer.Typer(
    name="sessionbox",
    help="Session-scoped storage for AI agents: serve it, migrate it, operate it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="SESSIONBOX_STORE",
        help="sqlite:///path, postgresql://..., dir:///path (default: sqlite in --data-dir)",
    ),
]
ProgressOpt = Annotated[
    bool, typer.Option(help="Progress bars on stderr (only when it is a terminal).")
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="SESSIONBOX_DATA_DIR", help="Default ./.sessionbox"),
]


def settings_from(store: str | None, data_dir: Path | None, **extra: Any) -> Settings:
    """Settings from the environment, overridden by what the command line gave."""
    given = {k: v for k, v in {"store": store, "data_dir": data_dir, **extra}.items() if v}
    return Settings(**given)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False


app.add_typer(fs_app, name="fs")
register_integrations(app)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="SESSIONBOX_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SESSIONBOX_PORT")] = 8787,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar="SESSIONBOX_WORKERS", min=1, help="Server processes on the one store (default 1)"
        ),
    ] = None,
) -> None:
    """Start the HTTP API (and web UI) on the configured store."""
    import uvicorn

    from sessionbox.api.app import create_app

    settings = settings_from(store, data_dir, host=host, port=port, workers=workers)
    if settings.admin_token is None and not is_loopback(host):
        say(
            (f"refusing to bind to {host}:", "red"),
            " no SESSIONBOX_ADMIN_TOKEN is set, so the server is open and may only listen "
            "on loopback (127.0.0.1 or ::1).",
        )
        raise typer.Exit(2)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if settings.workers == 1:
        application = create_app(settings)
        say(f"sessionbox on http://{host}:{port}  store={settings.store_url}")
        uvicorn.run(application, host=host, port=port, **options)
        return
    # Each worker process builds its app from the environment: hand it what the
    # command line said, and migrate once here rather than racing in every worker.
    # Each binds the port with SO_REUSEPORT (api/workers.py: why not uvicorn's own).
    from sessionbox.store import open_store

    os.environ["SESSIONBOX_STORE"] = settings.store_url
    os.environ["SESSIONBOX_DATA_DIR"] = str(settings.data_dir)
    open_store(settings.store_url, settings).close()
    say(
        f"sessionbox on http://{host}:{port}  store={settings.store_url}  "
        f"workers={settings.workers}"
    )
    from sessionbox.api import workers as processes

    processes.run(host, port, settings.workers, options)


@app.command()
def migrate(store: StoreOpt = None, data_dir: DataDirOpt = None) -> None:
    """Apply pending schema migrations and exit."""
    with opened_store(store, data_dir, migrate=False) as (_, opened):
        applied = opened.migrate()
    say(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


@contextmanager
def opened_store(
    store: str | None, data_dir: Path | None, *, migrate: bool = True
) -> Iterator[tuple[Settings, Store]]:
    """The settings and the store the options name, closed on the way out: every
    command that works on the store directly opens it here."""
    from sessionbox.store import open_store

    settings = settings_from(store, data_dir)
    opened = open_store(settings.store_url, settings, migrate=migrate)
    try:
        yield settings, opened
    finally:
        opened.close()


@app.command()
def prune(
    outputs_older_than: Annotated[
        str | None, typer.Option(help="Delete outputs older than this, e.g. 30d")
    ] = None,
    sessions_idle_for: Annotated[
        str | None, typer.Option(help="Delete sessions idle this long, e.g. 90d")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only report what would go")] = False,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Delete expired sessions, and old outputs or idle sessions when asked."""
    from sessionbox.services.retention import RetentionService, parse_duration

    older = parse_duration(outputs_older_than) if outputs_older_than else None
    idle = parse_duration(sessions_idle_for) if sessions_idle_for else None
    with opened_store(store, data_dir) as (settings, opened):
        report = RetentionService(opened, settings).prune(
            outputs_older_than=older, sessions_idle_for=idle, dry_run=dry_run
        )
    verb = "would delete" if dry_run else "deleted"
    for name in report.sessions_deleted:
        say(f"{verb} session {name}")
    say(
        f"{verb} {len(report.sessions_deleted)} session(s), {report.outputs_deleted} "
        f"output(s) ({report.output_bytes} bytes)"
    )


@app.command()
def gc(
    grace: Annotated[
        str, typer.Option(help="Remove blobs unreferenced at least this long (0s: now)")
    ] = "1h",
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Remove content blobs no entry references; safe while writers run."""
    from sessionbox.services.retention import RetentionService, parse_duration

    wait = parse_duration(grace)
    with opened_store(store, data_dir) as (settings, opened):
        report = RetentionService(opened, settings).gc(grace=wait)
    say(
        f"marked {report.marked} unreferenced blob(s); removed {report.removed} "
        f"({report.bytes_freed} bytes)"
    )


@app.command("export")
def export_session(
    agent: Annotated[str, typer.Argument(help="Agent id")],
    session: Annotated[str, typer.Argument(help="Session id")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Target directory or .tar.gz file")],
    format: Annotated[str, typer.Option("--format", help="dir or tar")] = "tar",
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Export a session (and the agent's applets) as a directory or a .tar.gz."""
    from sessionbox._localdir import write_dir
    from sessionbox.cli_progress import bar, counted_items
    from sessionbox.services.transfer import TransferService

    if format not in ("dir", "tar"):
        raise typer.BadParameter("--format is dir or tar")
    with opened_store(store, data_dir) as (settings, opened):
        service = TransferService(opened, settings)
        with bar(err, enabled=progress) as shown:
            items = counted_items(service.export_items(agent, session), shown, f"export {session}")
            if format == "dir":
                count = write_dir(items, out)
            else:
                from sessionbox.services._archive import write_tar_gz

                with out.open("wb") as target:
                    for chunk in write_tar_gz(items):
                        target.write(chunk)
        say(f"wrote {count} entries to {out}/" if format == "dir" else f"wrote {out}")


@app.command("import")
def import_session(
    agent: Annotated[str, typer.Argument(help="Agent id")],
    source: Annotated[Path, typer.Argument(help="An exported directory or .tar.gz")],
    session_id: Annotated[
        str | None, typer.Option("--session-id", help="Import the one session under this id")
    ] = None,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
    progress: ProgressOpt = True,
) -> None:
    """Import an export (directory or .tar.gz) all or nothing."""
    from sessionbox._localdir import read_dir
    from sessionbox.cli_progress import CountedReader, bar
    from sessionbox.services.transfer import TransferService, plan_import

    with opened_store(store, data_dir) as (settings, opened):
        service = TransferService(opened, settings)
        with bar(err, enabled=progress) as shown:
            if source.is_dir() and not source.is_symlink():
                shown.add_task(f"read {source.name}/", total=None)
                plan = plan_import(read_dir(source), settings)
            else:
                with source.open("rb") as handle:
                    task = shown.add_task(f"read {source.name}", total=source.stat().st_size)
                    plan = service.read_archive(CountedReader(handle, shown, task))  # type: ignore[arg-type]
            shown.add_task("import (one transaction)", total=None)
            report = service.import_plan(agent, plan, session_id=session_id)
    say(
        f"imported session(s) {', '.join(report.sessions) or 'none'}; applets added: "
        f"{', '.join(report.applets) or 'none'}; kept existing: "
        f"{', '.join(report.applets_skipped) or 'none'}"
    )


token_app = typer.Typer(help="Issue, list and revoke scoped API tokens (on the store directly).")
app.add_typer(token_app, name="token")


def positive_seconds(text: str) -> int:
    """Whole seconds from a duration such as ``3600``, ``15m``, ``12h`` or ``30d``."""
    from sessionbox.services.retention import parse_duration

    seconds = int(parse_duration(text).total_seconds())
    if seconds <= 0:
        raise InvalidInput(f"a lifetime must be positive: {text!r}")
    return seconds


@token_app.command("create")
def token_create(
    agent: Annotated[str, typer.Option("--agent", help="The agent the token is for.")],
    mode: Annotated[str, typer.Option("--mode", help="safe or unsafe.")] = "safe",
    session: Annotated[
        str | None, typer.Option("--session", help="Bind the token to this one session.")
    ] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Reads only.")] = False,
    ttl: Annotated[
        str | None, typer.Option("--ttl", help="Lifetime: seconds, or 15m, 12h, 30d.")
    ] = None,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Issue a token and print its secret (shown once; only its hash is stored)."""
    from sessionbox.services.tokens import TokenService

    lifetime = positive_seconds(ttl) if ttl is not None else None
    with opened_store(store, data_dir) as (_, opened):
        issued = TokenService(opened).create(
            agent,
            mode,  # type: ignore[arg-type]  # TokenService refuses anything but safe|unsafe
            session_id=session,
            read_only=read_only,
            ttl_seconds=lifetime,
        )
    record = issued.record
    expires = record.expires_at.isoformat() if record.expires_at else "never"
    say(
        f"token {record.id} for agent {record.agent_id} ({record.mode}"
        f"{', session ' + record.session_id if record.session_id else ''}"
        f"{', read-only' if record.read_only else ''}), expires {expires}"
    )
    typer.echo(issued.token)


@token_app.command("list")
def token_list(
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's.")] = None,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List tokens (never their secrets), revoked and expired ones included."""
    from rich.console import Console
    from rich.table import Table

    from sessionbox.services.tokens import TokenService

    table = Table("id", "agent", "mode", "session", "read-only", "expires", "revoked")
    with opened_store(store, data_dir) as (_, opened):
        service = TokenService(opened)
        cursor = None
        while True:
            page = service.list(agent_id=agent, cursor=cursor, limit=1000)
            for t in page.items:
                table.add_row(
                    *map(
                        cell,
                        (
                            t.id,
                            t.agent_id,
                            t.mode,
                            t.session_id or "-",
                            "yes" if t.read_only else "no",
                            t.expires_at.isoformat() if t.expires_at else "never",
                            t.revoked_at.isoformat() if t.revoked_at else "-",
                        ),
                    )
                )
            cursor = page.next_cursor
            if cursor is None:
                break
    Console(width=200).print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (from create or list).")],
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke a token; it stops working at once."""
    from sessionbox.services.tokens import TokenService

    with opened_store(store, data_dir) as (_, opened):
        TokenService(opened).revoke(token_id)
    say(f"revoked {token_id}")


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="N = 200 and smaller large-file workloads")] = False,
    store: Annotated[
        list[str] | None,
        typer.Option(
            "--store",
            help="Store to bench in-process and over HTTP (repeatable): sqlite:///, "
            "postgresql://server (the bench creates and drops its own database), dir:///. "
            "Default: all three.",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write results as JSON here")] = None,
    compare: Annotated[Path | None, typer.Option(help="A JSON file of an earlier run")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown here")] = None,
    budget: Annotated[
        float | None, typer.Option(help="Seconds one workload may take (default 60, quick 20)")
    ] = None,
    n: Annotated[list[int] | None, typer.Option("--n", help="File counts (repeatable)")] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="Run only these contenders (repeatable)")
    ] = None,
) -> None:
    """Measure sessionbox next to the local filesystem, raw databases and its peers."""
    from sessionbox.bench.cli import run_bench

    run_bench(
        quick=quick,
        stores=store,
        out=out,
        compare=compare,
        sizes=n,
        only=only,
        markdown=markdown,
        budget=budget,
    )


def main() -> None:
    """Entry point: one place turns a sessionbox error into a message and an exit code."""
    try:
        app()
    except SessionboxError as exc:
        say((f"{exc.title}:", "red"), f" {exc.detail}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

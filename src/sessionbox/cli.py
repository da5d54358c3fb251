"""The ``sessionbox`` command: serve, migrate, and operator tools."""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sessionbox.config import Settings
from sessionbox.errors import SessionboxError

app = typer.Typer(
    name="sessionbox",
    help="Session-scoped storage for AI agents: serve it, migrate it, operate it.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="SESSIONBOX_STORE",
        help="sqlite:///path, postgresql://..., dir:///path (default: sqlite in --data-dir)",
    ),
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="SESSIONBOX_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="SESSIONBOX_PORT")] = 8787,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Start the HTTP API (and web UI) on the configured store."""
    import uvicorn

    from sessionbox.api.app import create_app

    settings = settings_from(store, data_dir, host=host, port=port)
    if settings.admin_token is None and not is_loopback(host):
        err.print(
            f"[red]refusing to bind to {host}:[/] no SESSIONBOX_ADMIN_TOKEN is set, so the "
            "server is open and may only listen on loopback (127.0.0.1 or ::1)."
        )
        raise typer.Exit(2)
    application = create_app(settings)
    err.print(f"sessionbox on http://{host}:{port}  store={settings.store_url}")
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


@app.command()
def migrate(store: StoreOpt = None, data_dir: DataDirOpt = None) -> None:
    """Apply pending schema migrations and exit."""
    from sessionbox.store import open_store

    settings = settings_from(store, data_dir)
    opened = open_store(settings.store_url, settings, migrate=False)
    try:
        applied = opened.migrate()
    finally:
        opened.close()
    err.print(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def _open(store: str | None, data_dir: Path | None) -> Any:
    from sessionbox.store import open_store

    settings = settings_from(store, data_dir)
    return settings, open_store(settings.store_url, settings)


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
    settings, opened = _open(store, data_dir)
    try:
        report = RetentionService(opened, settings).prune(
            outputs_older_than=older, sessions_idle_for=idle, dry_run=dry_run
        )
    finally:
        opened.close()
    verb = "would delete" if dry_run else "deleted"
    for name in report.sessions_deleted:
        err.print(f"{verb} session {name}")
    err.print(
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
    settings, opened = _open(store, data_dir)
    try:
        report = RetentionService(opened, settings).gc(grace=wait)
    finally:
        opened.close()
    err.print(
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
) -> None:
    """Export a session (and the agent's applets) as a directory or a .tar.gz."""
    from sessionbox._localdir import write_dir
    from sessionbox.services.transfer import TransferService

    if format not in ("dir", "tar"):
        raise typer.BadParameter("--format is dir or tar")
    settings, opened = _open(store, data_dir)
    try:
        service = TransferService(opened, settings)
        if format == "dir":
            count = write_dir(service.export_items(agent, session), out)
            err.print(f"wrote {count} entries to {out}/")
        else:
            chunks = service.export_tar(agent, session)
            with out.open("wb") as target:
                for chunk in chunks:
                    target.write(chunk)
            err.print(f"wrote {out}")
    finally:
        opened.close()


@app.command("import")
def import_session(
    agent: Annotated[str, typer.Argument(help="Agent id")],
    source: Annotated[Path, typer.Argument(help="An exported directory or .tar.gz")],
    session_id: Annotated[
        str | None, typer.Option("--session-id", help="Import the one session under this id")
    ] = None,
    store: StoreOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Import an export (directory or .tar.gz) all or nothing."""
    from sessionbox._localdir import read_dir
    from sessionbox.services.transfer import TransferService, plan_import

    settings, opened = _open(store, data_dir)
    try:
        service = TransferService(opened, settings)
        if source.is_dir() and not source.is_symlink():
            plan = plan_import(read_dir(source), settings)
        else:
            with source.open("rb") as handle:
                plan = service.read_archive(handle)
        report = service.import_plan(agent, plan, session_id=session_id)
    finally:
        opened.close()
    err.print(
        f"imported session(s) {', '.join(report.sessions) or 'none'}; applets added: "
        f"{', '.join(report.applets) or 'none'}; kept existing: "
        f"{', '.join(report.applets_skipped) or 'none'}"
    )


def main() -> None:
    """Entry point: one place turns a sessionbox error into a message and an exit code."""
    try:
        app()
    except SessionboxError as exc:
        err.print(f"[red]{exc.title}:[/] {exc.detail}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

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
        help="sqlite:///path, postgresql://... (default: sqlite in --data-dir)",
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
        err.print(f"[red]{exc.title}:[/] {exc.detail}")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()

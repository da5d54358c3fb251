"""``sessionbox fs``: a session's files for people, on a server or straight on a store.

The commands speak the SDK's API only, so the same code runs over
``sessionbox.Client`` (``--url``) and ``sessionbox.open`` (``--store``). Errors
exit with their class's ``exit_code``; ``--json`` prints machine output.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from sessionbox.cli_output import cell, err, out, say
from sessionbox.errors import SessionboxError
from sessionbox.types import Entry

fs_app = typer.Typer(
    name="fs",
    help="Work with a session's files: ls, cat, put, get, rm, mv, cp, grep, mkdir.",
    no_args_is_help=True,
)
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Target:
    """Where the commands act; the SDK object is opened on first use."""

    url: str | None
    token: str | None
    store: str | None
    agent: str
    session: str
    as_json: bool
    progress: bool
    _sdk: Any = field(default=None, repr=False)

    def sdk(self) -> Any:
        if self._sdk is None:
            if self.url:
                from sessionbox.client.blocking import Client

                self._sdk = Client(self.url, token=self.token)
            else:
                from sessionbox.client.local import open as open_local

                self._sdk = open_local(self.store)
        return self._sdk

    def files(self) -> Any:
        return self.sdk().session(self.agent, self.session).files

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()


@fs_app.callback()
def target(
    ctx: typer.Context,
    agent: Annotated[str, typer.Option("--agent", "-a", envvar="SESSIONBOX_AGENT")],
    session: Annotated[str, typer.Option("--session", "-s", envvar="SESSIONBOX_SESSION")],
    url: Annotated[
        str | None,
        typer.Option(envvar="SESSIONBOX_URL", help="A sessionbox server; wins over --store."),
    ] = None,
    token: Annotated[str | None, typer.Option(envvar="SESSIONBOX_TOKEN")] = None,
    store: Annotated[
        str | None,
        typer.Option(envvar="SESSIONBOX_STORE", help="A store URL, used in-process."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    progress: Annotated[bool, typer.Option(help="Progress bars for put/get.")] = True,
) -> None:
    """Pick the session (--agent, --session) and where it lives (--url or --store)."""
    ctx.obj = Target(url, token, store, agent, session, as_json, progress and not as_json)
    ctx.call_on_close(ctx.obj.close)


def _failing_cleanly(fn: F) -> F:
    """Print a sessionbox error once and exit with its class's code."""

    def wrapper(ctx: typer.Context, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(ctx, *args, **kwargs)
        except SessionboxError as exc:
            if ctx.obj.as_json:
                problem = {"code": exc.code, "title": exc.title, "detail": exc.detail}
                typer.echo(json.dumps(problem), err=True)
            else:
                say((f"{exc.title}:", "red"), f" {exc.detail}")
            raise typer.Exit(exc.exit_code) from None

    return functools.wraps(fn)(wrapper)  # type: ignore[return-value]


def _emit(target: Target, value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False))


def _entry(target: Target, entry: Entry) -> dict[str, Any]:
    return entry.to_json(target.session)


def _done(target: Target, verb: str, entry: Entry) -> None:
    if target.as_json:
        _emit(target, _entry(target, entry))
    else:
        say(f"{verb} {entry.path} ({entry.size_bytes} bytes)")


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)  # pragma: no cover


def _progress(target: Target) -> Progress:
    return Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not target.progress,
    )


Ctx = typer.Context


@fs_app.command()
@_failing_cleanly
def ls(ctx: Ctx, path: Annotated[str, typer.Argument()] = "/") -> None:
    """List a directory (or show one file)."""
    t: Target = ctx.obj
    info = t.files().stat(path)
    entries = t.files().list(path) if info.is_directory else [info]
    if t.as_json:
        _emit(t, [_entry(t, e) for e in entries])
        return
    table = Table(box=None, show_header=True, header_style="bold")
    for column in ("name", "size", "type", "modified", "flags"):
        table.add_column(column, justify="right" if column == "size" else "left")
    for e in entries:
        table.add_row(
            cell(f"{e.name}/", "bold blue") if e.is_directory else cell(e.name),
            cell("" if e.is_directory else _size(e.size_bytes)),
            cell(e.content_type or ""),
            cell(e.updated_at.strftime("%Y-%m-%d %H:%M:%S")),
            cell("ro" if e.is_readonly else ""),
        )
    out.print(table)


@fs_app.command()
@_failing_cleanly
def cat(ctx: Ctx, path: str) -> None:
    """Write a file's bytes to stdout, streamed."""
    _to_stdout(ctx.obj.files().read_stream(path))


def _to_stdout(pieces: Iterator[bytes]) -> None:
    sink = typer.get_binary_stream("stdout")
    for piece in pieces:
        sink.write(piece)
    sink.flush()


def _reading(source: IO[bytes], advance: Callable[[int], object]) -> IO[bytes]:
    """``source`` whose reads move a progress bar."""

    class Tracked:
        def read(self, size: int = -1) -> bytes:
            piece = source.read(size)
            advance(len(piece))
            return piece

    return Tracked()  # type: ignore[return-value]


@fs_app.command()
@_failing_cleanly
def put(
    ctx: Ctx,
    local: Annotated[Path, typer.Argument(help="A local file, or - for stdin.")],
    path: Annotated[str, typer.Argument(help="Where in the session.")],
    etag: Annotated[str | None, typer.Option(help="Only if the file still has this ETag.")] = None,
) -> None:
    """Upload a local file (streamed, with a progress bar)."""
    t: Target = ctx.obj
    if str(local) == "-":
        entry = t.files().write_stream(path, typer.get_binary_stream("stdin"), etag=etag)
        _done(t, "wrote", entry)
        return
    if not local.is_file():
        say(("No such local file:", "red"), f" {local}")
        raise typer.Exit(4)
    with _progress(t) as bar, local.open("rb") as source:
        task = bar.add_task(f"put {path}", total=local.stat().st_size)
        tracked = _reading(source, lambda n: bar.advance(task, n))
        entry = t.files().write_stream(path, tracked, etag=etag)
    _done(t, "wrote", entry)


@fs_app.command()
@_failing_cleanly
def get(
    ctx: Ctx,
    path: Annotated[str, typer.Argument(help="A file in the session.")],
    local: Annotated[
        Path | None, typer.Argument(help="Local file (default: its name here); - for stdout.")
    ] = None,
) -> None:
    """Download a file (streamed, with a progress bar)."""
    t: Target = ctx.obj
    files = t.files()
    if str(local) == "-":
        _to_stdout(files.read_stream(path))
        return
    info = files.stat(path)
    target_file = local or Path(info.name or "download")
    if target_file.is_dir():
        target_file = target_file / info.name
    partial = target_file.with_name(target_file.name + ".part")
    with _progress(t) as bar, partial.open("wb") as sink:
        task = bar.add_task(f"get {path}", total=info.size_bytes)
        for piece in files.read_stream(path):
            sink.write(piece)
            bar.advance(task, len(piece))
    partial.replace(target_file)
    if t.as_json:
        _emit(t, {**_entry(t, info), "local": str(target_file)})
    else:
        say(f"saved {path} to {target_file} ({info.size_bytes} bytes)")


@fs_app.command()
@_failing_cleanly
def rm(
    ctx: Ctx,
    path: str,
    recursive: Annotated[bool, typer.Option("--recursive", "-r")] = False,
    etag: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Delete a file or an empty directory (-r for a tree)."""
    t: Target = ctx.obj
    count = t.files().delete(path, recursive=recursive, etag=etag)
    if t.as_json:
        _emit(t, {"deleted": count})
    else:
        say(f"deleted {count} entr{'y' if count == 1 else 'ies'}")


@fs_app.command()
@_failing_cleanly
def mv(
    ctx: Ctx,
    src: str,
    dst: str,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-f")] = False,
) -> None:
    """Move or rename a file or a tree."""
    _done(ctx.obj, "moved to", ctx.obj.files().move(src, dst, overwrite=overwrite))


@fs_app.command()
@_failing_cleanly
def cp(
    ctx: Ctx,
    src: str,
    dst: str,
    overwrite: Annotated[bool, typer.Option("--overwrite", "-f")] = False,
) -> None:
    """Copy a file or a tree (content is shared, not copied)."""
    _done(ctx.obj, "copied to", ctx.obj.files().copy(src, dst, overwrite=overwrite))


@fs_app.command()
@_failing_cleanly
def mkdir(ctx: Ctx, path: str) -> None:
    """Create a directory and its parents (no error if it exists)."""
    _done(ctx.obj, "made", ctx.obj.files().mkdir(path, exist_ok=True))


@fs_app.command()
@_failing_cleanly
def grep(
    ctx: Ctx,
    pattern: Annotated[str, typer.Argument(help="A Python regular expression.")],
    path: Annotated[str, typer.Argument(help="Directory to search.")] = "/",
    glob: Annotated[
        str | None, typer.Option("--glob", "-g", help="Only names/paths like *.py")
    ] = None,
    max_matches: Annotated[int | None, typer.Option("--max", min=1)] = None,
) -> None:
    """Search file contents; exits 1 when nothing matched, like grep."""
    t: Target = ctx.obj
    found = t.files().grep(pattern, path=path, path_pattern=glob, max_matches=max_matches)
    if t.as_json:
        _emit(
            t,
            [
                {"path": m.path, "line_number": m.line_number, "line": m.line}
                for f in found
                for m in f.matches
            ],
        )
    else:
        for f in found:
            for m in f.matches:
                say(
                    (m.path, "magenta"),
                    ":",
                    (str(m.line_number), "green"),
                    f":{m.line}",
                    console=out,
                )
    if not found:
        raise typer.Exit(1)

"""An MCP server (the official ``mcp`` package) giving an LLM one session's files.

``sessionbox mcp --agent A --session S`` serves it on stdio; the HTTP app mounts
it at ``/mcp?agent=A&session=S`` (streamable HTTP, stateless, so any replica
answers). Tools: ls, read_file, write_file, edit_file, glob, grep, move, copy,
delete, and Caco's store_output, save_applet, load_applet, list_applets; every
file is also a resource ``sessionbox:///<path>``. The tools call the SDK API, so
they work on an in-process store and over HTTP alike.
"""

from __future__ import annotations

import base64
import binascii
import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import Resource as MCPResource

from sessionbox.errors import InvalidInput, SessionboxError
from sessionbox.integrations._walk import find

T = TypeVar("T")
MAX_RESOURCES = 1000
_files: contextvars.ContextVar[Any] = contextvars.ContextVar("sessionbox_mcp_files")
# (outputs, applets) of the session a request names; the applets are its agent's.
_caco: contextvars.ContextVar[tuple[Any, Any]] = contextvars.ContextVar("sessionbox_mcp_caco")

INSTRUCTIONS = (
    "A session's private filesystem. Paths are absolute ('/notes/todo.md'). read_file "
    "returns numbered lines; edit_file replaces one exact, unique string."
)


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call on a worker thread; a sessionbox error becomes a tool error."""
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
    except SessionboxError as exc:
        raise ToolError(f"{exc.code}: {exc.detail}") from None


def _entry(e: Any) -> dict[str, Any]:
    return {
        "path": e.path,
        "type": "directory" if e.is_directory else "file",
        "size": e.size_bytes,
        "readonly": e.is_readonly,
    }


def _applet(applet: Any, *, content: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {**applet.summary(), "version": applet.version}
    if content:
        body.update(html=applet.html, js=applet.js, css=applet.css, state=applet.state)
    return body


def build_server(
    default_files: Any = None, default_caco: tuple[Any, Any] | None = None
) -> MCPServer:
    """The MCP server; tools act on ``default_files`` (and ``default_caco``: the session's
    outputs and its agent's applets) unless a request names a session."""

    def caco() -> tuple[Any, Any]:
        found = _caco.get(default_caco)
        if found is None:
            raise ToolError("no session: connect to /mcp?agent=<agent>&session=<session>")
        return found

    def files() -> Any:
        found = _files.get(default_files)
        if found is None:
            raise ToolError("no session: connect to /mcp?agent=<agent>&session=<session>")
        return found

    server = _SessionServer(
        files, name="sessionbox", instructions=INSTRUCTIONS, log_level="WARNING"
    )

    @server.tool()
    async def ls(path: str = "/") -> list[dict[str, Any]]:
        """List a directory: path, type, size and readonly flag of each child."""
        return [_entry(e) for e in await _call(files().list, path)]

    @server.tool()
    async def read_file(path: str, offset: int = 0, limit: int = 2000) -> str:
        """Read a text file as numbered lines, starting at line ``offset`` (0-based)."""
        data = await _call(files().read, path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return f"{path} is a binary file of {len(data)} bytes"
        lines = text.splitlines()
        if offset < 0 or limit < 1:
            raise ToolError("offset must be >= 0 and limit >= 1")
        if offset and offset >= len(lines):
            raise ToolError(f"offset {offset} is past the end ({len(lines)} lines)")
        shown = lines[offset : offset + limit]
        return "\n".join(f"{n:6}\t{line}" for n, line in enumerate(shown, start=offset + 1))

    @server.tool()
    async def write_file(path: str, content: str) -> str:
        """Create or replace a text file (parents are created)."""
        entry = await _call(files().write, path, content)
        return f"wrote {entry.size_bytes} bytes to {entry.path}"

    @server.tool()
    async def edit_file(
        path: str, old_string: str, new_string: str, replace_all: bool = False
    ) -> str:
        """Replace ``old_string`` with ``new_string``; it must occur exactly once
        unless ``replace_all``. The write is conditional on the version read."""
        target = files()
        info = await _call(target.stat, path)
        text = (await _call(target.read, path)).decode("utf-8", errors="strict")
        count = text.count(old_string) if old_string else 0
        if count == 0:
            raise ToolError(f"old_string was not found in {path}")
        if count > 1 and not replace_all:
            raise ToolError(
                f"old_string occurs {count} times in {path}; give more context to make it "
                "unique, or set replace_all"
            )
        updated = text.replace(old_string, new_string)
        await _call(target.write, path, updated, etag=info.etag)
        return f"replaced {count if replace_all else 1} occurrence(s) in {path}"

    @server.tool()
    async def glob(pattern: str, path: str = "/") -> list[str]:
        """Files below ``path`` whose path (relative to it) matches, e.g. ``**/*.py``."""
        return [e.path for e in await _call(find, files(), pattern, path)]

    @server.tool()
    async def grep(
        pattern: str, path: str = "/", glob: str | None = None, max_matches: int = 200
    ) -> str:
        """Search file contents with a Python regex; answers ``path:line:text`` lines."""
        found = await _call(
            files().grep, pattern, path=path, path_pattern=glob, max_matches=max_matches
        )
        lines = [f"{m.path}:{m.line_number}:{m.line}" for f in found for m in f.matches]
        return "\n".join(lines) or "no matches"

    @server.tool()
    async def move(src: str, dst: str, overwrite: bool = False) -> str:
        """Move or rename a file or directory."""
        return f"moved to {(await _call(files().rename, src, dst, overwrite=overwrite)).path}"

    @server.tool()
    async def copy(src: str, dst: str, overwrite: bool = False) -> str:
        """Copy a file or directory."""
        return f"copied to {(await _call(files().copy, src, dst, overwrite=overwrite)).path}"

    @server.tool()
    async def delete(path: str, recursive: bool = False) -> str:
        """Delete a file or empty directory (``recursive`` for a tree)."""
        return f"deleted {await _call(files().remove, path, recursive=recursive)} entries"

    @server.tool()
    async def store_output(
        data: str, metadata: dict[str, Any] | None = None, encoding: str = "text"
    ) -> dict[str, str]:
        """Keep a tool's output out of the chat: answers its id and the marker
        (``[output:out_7]``) to put in the reply instead. ``metadata.type`` is one of
        file, terminal, image, embed, raw; ``encoding`` "base64" stores binary data."""
        if encoding == "base64":
            try:
                payload: str | bytes = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise ToolError("encoding_invalid: data is not valid base64") from None
        elif encoding == "text":
            payload = data
        else:
            raise ToolError("encoding_invalid: encoding must be 'text' or 'base64'")
        out = await _call(caco()[0].store_output, payload, metadata or {"type": "raw"})
        return {"id": out.id, "marker": out.marker}

    @server.tool()
    async def save_applet(
        slug: str,
        name: str,
        html: str,
        description: str | None = None,
        js: str | None = None,
        css: str | None = None,
    ) -> dict[str, Any]:
        """Create or replace one of the agent's applets (a small HTML page; its state is kept)."""
        saved = await _call(
            caco()[1].save, slug, name=name, html=html, description=description, js=js, css=css
        )
        return _applet(saved)

    @server.tool()
    async def load_applet(slug: str) -> dict[str, Any]:
        """An applet's html, js, css, state and metadata."""
        return _applet(await _call(caco()[1].load, slug), content=True)

    @server.tool()
    async def list_applets() -> list[dict[str, Any]]:
        """The agent's applets: slug, name, description, times and version."""
        return [_applet(a) for a in await _call(caco()[1].list)]

    @server.resource("sessionbox:///{+path}", name="file", description="A file of the session")
    async def file_resource(path: str) -> str | bytes:
        try:
            data: bytes = await anyio.to_thread.run_sync(files().read, "/" + path)
        except SessionboxError as exc:
            raise ResourceError(f"{exc.code}: {exc.detail}") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data

    return server


class _SessionServer(MCPServer):
    """Lists every file of the session as a resource (the first ``MAX_RESOURCES``)."""

    def __init__(self, files: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._session_files = files

    async def list_resources(self) -> list[MCPResource]:
        target = self._session_files()
        found: list[MCPResource] = []
        pending = ["/"]
        while pending and len(found) < MAX_RESOURCES:
            for e in await _call(target.list, pending.pop()):
                if e.is_directory:
                    pending.append(e.path)
                else:
                    found.append(
                        MCPResource(
                            uri=f"sessionbox://{e.path}",
                            name=e.path,
                            mime_type=e.content_type,
                            size=e.size_bytes,
                        )
                    )
        return sorted(found, key=lambda r: r.uri)[:MAX_RESOURCES]


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def session_scoped(
    inner: ASGIApp, sdk: Any, check: Callable[[dict[str, Any], str, str], Awaitable[None]]
) -> ASGIApp:
    """ASGI wrapper: pick the session from ``?agent=&session=``, check the caller, then serve."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        agent = (query.get("agent") or [""])[0]
        session = (query.get("session") or [""])[0]
        try:
            if not agent or not session:
                raise InvalidInput("connect to /mcp?agent=<agent>&session=<session>")
            await check(scope, agent, session)
            await anyio.to_thread.run_sync(sdk.get_session, agent, session)
        except SessionboxError as exc:
            await _problem(scope, receive, send, exc)
            return
        handle = sdk.session(agent, session)
        token = _files.set(handle.files)
        caco_token = _caco.set((handle.outputs, sdk.applets(agent)))
        try:
            await inner(scope, receive, send)
        finally:
            _caco.reset(caco_token)
            _files.reset(token)

    return app


async def _problem(scope: dict[str, Any], receive: Any, send: Any, exc: SessionboxError) -> None:
    from sessionbox.api.problems import from_error

    await from_error(exc)(scope, receive, send)


class _ASGI:
    """Marks a callable as an ASGI app for Starlette's ``Route`` (not a request handler)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def mount(app: Any, sdk: Any, host: str) -> Callable[[], Any]:
    """Serve MCP at ``/mcp`` on a FastAPI app; returns the lifespan context to enter."""
    from starlette.requests import Request
    from starlette.routing import Route

    from sessionbox.api.auth import principal

    async def check(scope: dict[str, Any], agent: str, session: str) -> None:
        # Writing the session implies writing its agent's applets (Principal.check_agent).
        (await principal(Request(scope))).check_session(agent, session, write=True)

    server = build_server()
    inner = server.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, host=host
    )
    route = Route(
        "/mcp", _ASGI(session_scoped(inner, sdk, check)), methods=["GET", "POST", "DELETE"]
    )
    app.router.routes.append(route)
    return server.session_manager.run

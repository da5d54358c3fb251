"""``sessionbox mcp`` and ``sessionbox webdav``: one session served to a tool or a desktop.

Both open the session through the SDK, on a server (``--url``) or a store
(``--store``), exactly as ``sessionbox fs`` does.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

AgentOpt = Annotated[str, typer.Option("--agent", "-a", envvar="SESSIONBOX_AGENT")]
SessionOpt = Annotated[str, typer.Option("--session", "-s", envvar="SESSIONBOX_SESSION")]
UrlOpt = Annotated[
    str | None,
    typer.Option(envvar="SESSIONBOX_URL", help="A sessionbox server; wins over --store."),
]
TokenOpt = Annotated[str | None, typer.Option(envvar="SESSIONBOX_TOKEN")]
StoreOpt = Annotated[
    str | None, typer.Option(envvar="SESSIONBOX_STORE", help="A store URL, used in-process.")
]


def open_sdk(url: str | None, token: str | None, store: str | None) -> Any:
    if url:
        from sessionbox.client.blocking import Client

        return Client(url, token=token)
    from sessionbox.client.local import open as open_local

    return open_local(store)


def register(app: typer.Typer) -> None:
    @app.command()
    def mcp(
        agent: AgentOpt,
        session: SessionOpt,
        url: UrlOpt = None,
        token: TokenOpt = None,
        store: StoreOpt = None,
    ) -> None:
        """Serve one session's files to an LLM as MCP tools, over stdio."""
        from sessionbox.integrations.mcp import build_server

        sdk = open_sdk(url, token, store)
        try:
            sdk.get_session(agent, session)
            handle = sdk.session(agent, session)
            build_server(handle.files, (handle.outputs, sdk.applets(agent))).run("stdio")
        finally:
            sdk.close()

    @app.command()
    def webdav(
        agent: AgentOpt,
        session: SessionOpt,
        url: UrlOpt = None,
        token: TokenOpt = None,
        store: StoreOpt = None,
        host: Annotated[str, typer.Option(help="Loopback only: the mount has no login.")] = (
            "127.0.0.1"
        ),
        port: Annotated[int, typer.Option()] = 8788,
        read_only: Annotated[bool, typer.Option("--read-only", help="Refuse every change.")] = (
            False
        ),
    ) -> None:
        """Mount one session as a WebDAV drive (http://HOST:PORT/)."""
        from cheroot import wsgi

        from sessionbox.cli import is_loopback
        from sessionbox.integrations.webdav import make_app

        if not is_loopback(host):
            typer.echo(f"refusing to bind to {host}: the WebDAV mount has no login", err=True)
            raise typer.Exit(2)
        sdk = open_sdk(url, token, store)
        server = None
        try:
            sdk.get_session(agent, session)
            dav = make_app(sdk.session(agent, session).files, read_only=read_only)
            server = wsgi.Server((host, port), dav)
            typer.echo(f"WebDAV on http://{host}:{port}/ for {agent}/{session}", err=True)
            server.start()
        except KeyboardInterrupt:
            pass
        finally:
            if server is not None:
                server.stop()
            sdk.close()

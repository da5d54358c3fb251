"""The ASGI application: ``create_app(settings)`` wires services to routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionbox import __version__
from sessionbox.api import observe, openapi, problems
from sessionbox.api.fastpath import FastPath
from sessionbox.api.hops import Hops
from sessionbox.api.metrics import Metrics, metered
from sessionbox.api.routes import applets, events, fs, outputs, sessions, tokens, transfer
from sessionbox.api.routes import snapshots as snapshot_routes
from sessionbox.config import Settings
from sessionbox.errors import SessionboxError
from sessionbox.services._bytecache import ByteCache
from sessionbox.services.applets import AppletService
from sessionbox.services.events import EventHub
from sessionbox.services.files import FileService
from sessionbox.services.outputs import OutputService
from sessionbox.services.retention import RetentionService, run_periodically
from sessionbox.services.sessions import SessionService
from sessionbox.services.snapshots import SnapshotService
from sessionbox.services.tokens import TokenService
from sessionbox.services.transfer import TransferService
from sessionbox.store import Store, open_store
from sessionbox.web import install as install_web

_DESCRIPTION = (
    "Session-scoped storage for AI agents: a virtual filesystem per session. Errors are "
    "RFC 9457 `application/problem+json` with a stable `code`."
)


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """Build the app; it opens (and migrates) the store unless one is given."""
    settings = settings or Settings()
    owned = store is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await app.state.retention.clear_dead_dirs()
        retention = asyncio.create_task(run_periodically(app.state.retention, settings))
        async with AsyncExitStack() as hooks:
            for hook in app.state.lifespan_hooks:
                await hooks.enter_async_context(hook())
            yield
        retention.cancel()
        app.state.events.close()
        await run_in_threadpool(app.state.hops.close)
        if owned:
            await run_in_threadpool(app.state.store.close)

    app = FastAPI(
        title="sessionbox",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        # FastAPI's OpenTelemetry bridge asks for configured providers on every request
        # (~4 µs of a ~45 µs fast read); sessionbox's own metrics are served instead.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    app.state.settings = settings
    metrics = Metrics() if settings.metrics else None
    app.state.store = store or open_store(settings.store_url, settings)
    if metrics is not None:
        app.state.store = metered(app.state.store, metrics)
    app.state.files = FileService(app.state.store, settings)
    app.state.sessions = SessionService(app.state.store, settings)
    app.state.snapshots = SnapshotService(app.state.store, settings)
    app.state.outputs = OutputService(
        app.state.store, settings, ByteCache(settings.output_cache_bytes)
    )
    app.state.applets = AppletService(app.state.store, settings)
    app.state.retention = RetentionService(app.state.store, settings)
    app.state.transfer = TransferService(app.state.store, settings)
    app.state.tokens = TokenService(app.state.store)
    app.state.events = EventHub(app.state.store)
    app.state.hops = Hops(app.state.store)
    problems.install(app)
    for router in (
        sessions.router,
        fs.router,
        tokens.router,
        snapshot_routes.router,
        outputs.router,
        applets.router,
        transfer.router,
        events.router,
    ):
        app.include_router(router, responses=problems.RESPONSES)
    app.state.lifespan_hooks = []
    _mount_integrations(app, settings)
    install_web(app)

    @app.get(
        "/healthz",
        tags=["health"],
        summary="200 when the store answers",
        responses=problems.RESPONSES,
    )
    async def healthz() -> JSONResponse:
        try:
            await run_in_threadpool(app.state.store.ping)
        except SessionboxError as exc:
            return problems.from_error(exc)
        return JSONResponse({"status": "ok"})

    openapi.install(app)
    # The hot fs requests in plain ASGI (api/fastpath.py); outside it only Starlette's
    # error middleware. Middleware added after this one (metrics) wraps it.
    app.add_middleware(FastPath)
    observe.install(app, settings, metrics)
    return app


def _mount_integrations(app: FastAPI, settings: Settings) -> None:
    """Optional extras that serve over HTTP: mounted when installed."""
    try:
        from sessionbox.integrations import mcp
    except ImportError:  # the `mcp` extra is not installed
        return
    from sessionbox.client.local import Sessionbox

    sdk = Sessionbox(app.state.store, settings)
    app.state.lifespan_hooks.append(mcp.mount(app, sdk, settings.host))

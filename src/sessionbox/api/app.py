"""The ASGI application: ``create_app(settings)`` wires services to routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionbox import __version__
from sessionbox.api import problems
from sessionbox.api.routes import fs, sessions
from sessionbox.config import Settings
from sessionbox.errors import SessionboxError
from sessionbox.services.files import FileService
from sessionbox.services.sessions import SessionService
from sessionbox.store import open_store
from sessionbox.store.base import Store

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
        yield
        if owned:
            await run_in_threadpool(app.state.store.close)

    app = FastAPI(
        title="sessionbox",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    app.state.settings = settings
    app.state.store = store or open_store(settings.store_url, settings)
    app.state.files = FileService(app.state.store, settings)
    app.state.sessions = SessionService(app.state.store, settings)
    problems.install(app)
    app.include_router(sessions.router, responses=problems.RESPONSES)
    app.include_router(fs.router, responses=problems.RESPONSES)

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

    return app

"""The web UI: a small static app served at ``/`` and ``/ui/...``.

Every ``/ui/...`` URL answers the same page, which reads the path and renders
the view from the public REST API alone, so any view is bookmarkable and the UI
is one more API client. No build step at install: the JavaScript is plain ES
modules; the one bundled part (the editor) is built once and committed.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"
INDEX = STATIC_DIR / "ui" / "index.html"

# The UI's origin runs only its own scripts; stored content (files, outputs) is
# shown as text or in <img>, and applets only in sandboxed frames of /view.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' blob: data:; frame-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def install(app: FastAPI) -> None:
    """Mount ``/static`` (shared with other browser assets) and the UI routes."""
    if not any(getattr(route, "path", None) == "/static" for route in app.routes):
        # Compressed here only: the editor bundle shrinks from 772 KB to 276 KB, while API
        # responses (raw ranges, the event stream) stay untouched.
        static = GZipMiddleware(StaticFiles(directory=STATIC_DIR), minimum_size=1024)
        app.mount("/static", static, name="static")

    @app.get("/", include_in_schema=False)
    async def home() -> FileResponse:
        return FileResponse(INDEX, headers=_HEADERS)

    @app.get("/ui", include_in_schema=False)
    async def ui_root() -> RedirectResponse:
        return RedirectResponse("/")

    @app.get("/ui/{rest:path}", include_in_schema=False)
    async def ui(rest: str) -> FileResponse:
        return FileResponse(INDEX, headers=_HEADERS)

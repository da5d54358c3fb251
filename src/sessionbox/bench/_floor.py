"""The HTTP references: 1 KiB from memory, as a bare Starlette app (the floor) and as a
bare FastAPI route with one async dependency (what a plain FastAPI route costs).

Run by the bench as ``python -m sessionbox.bench._floor PORT [starlette|fastapi]``
under the same uvicorn settings as ``sessionbox serve`` (uvloop, httptools), so the
gap to them is sessionbox's own cost.
"""

from __future__ import annotations

import sys
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAYLOAD = b"x" * 1024


async def one_kib(request: Request) -> Response:
    return Response(PAYLOAD, media_type="application/octet-stream")


app = Starlette(routes=[Route("/healthz", one_kib), Route("/{path:path}", one_kib)])


async def _state(request: Request) -> bytes:
    """The one async dependency: what every sessionbox route has (the caller)."""
    return PAYLOAD


fastapi_app = FastAPI()


@fastapi_app.get("/healthz")
@fastapi_app.get("/{path:path}")
async def fastapi_one_kib(data: Annotated[bytes, Depends(_state)]) -> Response:
    return Response(data, media_type="application/octet-stream")


if __name__ == "__main__":
    chosen = fastapi_app if sys.argv[2:] == ["fastapi"] else app
    uvicorn.run(
        chosen, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False
    )

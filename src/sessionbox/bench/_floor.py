"""The HTTP floor: a minimal Starlette app returning 1 KiB from memory.

Run by the bench as ``python -m sessionbox.bench._floor PORT`` under the same uvicorn
settings as ``sessionbox serve``, so the gap to it is sessionbox's own cost.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAYLOAD = b"x" * 1024


async def one_kib(request: Request) -> Response:
    return Response(PAYLOAD, media_type="application/octet-stream")


app = Starlette(routes=[Route("/healthz", one_kib), Route("/{path:path}", one_kib)])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)

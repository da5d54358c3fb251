"""``GET /v1/agents/{agent_id}/sessions/{session_id}/events``: the live change feed (SSE).

Server-sent events through ``sse-starlette``: it owns the protocol details we
would otherwise hand-write (framing, keep-alive pings, disconnect detection,
ending streams when uvicorn shuts down), and a browser's ``EventSource``
reconnects by itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.services.events import EventHub
from sessionbox.services.sessions import SessionService

router = APIRouter(prefix="/v1/agents/{agent_id}/sessions/{session_id}", tags=["events"])
Caller = Annotated[Principal, Depends(principal)]


@router.get(
    "/events",
    summary="Live changes of the session (text/event-stream)",
    description=(
        "Server-sent events. First `ready` once the subscription is active, then one "
        "`change` event per committed change, data `{agent, session, volume, op, path, to?}` "
        "(`op`: write, mkdir, attrs, delete, move, copy, changed; `resync`: you fell behind, "
        "or the server's database feed had a gap: list again). Comment pings keep proxies "
        "from closing an idle stream."
    ),
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def events(agent_id: str, session_id: str, request: Request, caller: Caller) -> Response:
    caller.check_session(agent_id, session_id)
    service: SessionService = request.app.state.sessions
    record = await run_in_threadpool(service.get, agent_id, session_id)
    hub: EventHub = request.app.state.events
    await run_in_threadpool(hub.start)

    async def stream() -> AsyncIterator[ServerSentEvent]:
        async with hub.subscribe(record.agent_id, record.id) as sub:
            yield ServerSentEvent(event="ready", data=json.dumps({"session": record.id}))
            while (event := await sub.next()) is not None:
                yield ServerSentEvent(event="change", data=json.dumps(event, ensure_ascii=False))

    return EventSourceResponse(
        stream(),
        ping=request.app.state.settings.sse_ping_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )

"""``/v1/agents/{agent_id}/sessions``: create, list, read and delete sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import (
    AgentListOut,
    CreateSessionBody,
    SessionListOut,
    SessionOut,
    session_json,
)
from sessionbox.ids import Mode, SessionType
from sessionbox.services.sessions import SessionService

router = APIRouter(prefix="/v1/agents", tags=["sessions"])
Caller = Annotated[Principal, Depends(principal)]


def sessions(request: Request) -> SessionService:
    service: SessionService = request.app.state.sessions
    return service


Sessions = Annotated[SessionService, Depends(sessions)]


@router.get("", response_model=AgentListOut, summary="List agents that have sessions")
async def list_agents(
    caller: Caller,
    service: Sessions,
    limit: int | None = Query(None, ge=1),
    cursor: str | None = None,
) -> Response:
    page = await run_in_threadpool(service.list_agents, limit=limit, cursor=cursor)
    return JSONResponse({"data": page.items, "next_cursor": page.next_cursor})


@router.post(
    "/{agent_id}/sessions", response_model=SessionOut, status_code=201, summary="Create a session"
)
async def create_session(
    agent_id: str,
    caller: Caller,
    service: Sessions,
    body: CreateSessionBody | None = None,
) -> Response:
    body = body or CreateSessionBody()
    caller.check_agent(agent_id, write=True)
    if body.id is not None:
        caller.check_session(agent_id, body.id, write=True)
    record = await run_in_threadpool(
        service.create, agent_id, body.id, mode=body.mode, ttl_seconds=body.ttl_seconds
    )
    return JSONResponse(session_json(record), 201)


@router.get("/{agent_id}/sessions", response_model=SessionListOut, summary="List sessions")
async def list_sessions(
    agent_id: str,
    caller: Caller,
    service: Sessions,
    limit: int | None = Query(None, ge=1),
    cursor: str | None = None,
    mode: Mode | None = None,
    type: SessionType | None = None,
) -> Response:
    caller.check_agent(agent_id)
    page = await run_in_threadpool(
        service.list, agent_id, limit=limit, cursor=cursor, mode=mode, type_=type
    )
    return JSONResponse(
        {"data": [session_json(s) for s in page.items], "next_cursor": page.next_cursor}
    )


@router.get(
    "/{agent_id}/sessions/{session_id}", response_model=SessionOut, summary="Read a session"
)
async def get_session(
    agent_id: str, session_id: str, caller: Caller, service: Sessions
) -> Response:
    caller.check_session(agent_id, session_id)
    record = await run_in_threadpool(service.get, agent_id, session_id)
    return JSONResponse(session_json(record))


@router.delete(
    "/{agent_id}/sessions/{session_id}",
    status_code=204,
    summary="Delete a session and everything in it",
)
async def delete_session(
    agent_id: str, session_id: str, caller: Caller, service: Sessions
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    await run_in_threadpool(service.delete, agent_id, session_id)
    return Response(status_code=204)

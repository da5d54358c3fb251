"""``/v1/agents/{agent_id}/sessions``: create, resolve, list, read and delete sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import (
    AgentListOut,
    CreateSessionBody,
    ResolveBody,
    ResolveOut,
    SessionListOut,
    SessionOut,
)
from sessionbox.errors import ReadOnlyToken, SessionNotFound
from sessionbox.ids import Mode, SessionType, validate_agent_id
from sessionbox.services.sessions import SessionService, plan_resolve

router = APIRouter(prefix="/v1/agents", tags=["sessions"])
Caller = Annotated[Principal, Depends(principal)]


async def sessions(request: Request) -> SessionService:
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
    if not caller.admin:  # a token knows of its own agent only
        return JSONResponse({"data": [caller.agent_id], "next_cursor": None})
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
    if body.id is not None:
        caller.check_session(agent_id, body.id, write=True)
    else:
        caller.check_new_session(agent_id)
    record = await run_in_threadpool(
        service.create, agent_id, body.id, mode=body.mode, ttl_seconds=body.ttl_seconds
    )
    return JSONResponse(record.to_json(), 201)


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
    mode = caller.check_list_sessions(agent_id, mode)
    page = await run_in_threadpool(
        service.list, agent_id, limit=limit, cursor=cursor, mode=mode, type_=type
    )
    return JSONResponse(
        {"data": [s.to_json() for s in page.items], "next_cursor": page.next_cursor}
    )


@router.post(
    "/{agent_id}/sessions/resolve",
    response_model=ResolveOut,
    summary="Find or create the session a panel should use (NatStack derivation)",
    responses={201: {"model": ResolveOut, "description": "The session was created"}},
)
async def resolve_session(
    agent_id: str, body: ResolveBody, caller: Caller, service: Sessions
) -> Response:
    """200 with ``created: false`` when the session exists, 201 when this call created it.

    A read-only token may resolve sessions that exist; creating one is 403 ``read_only``.
    """
    validate_agent_id(agent_id)  # the path is checked before the body, as on every route
    sid, resumable = plan_resolve(
        body.mode,
        panel_path=body.panel_path,
        parent_session=body.parent_session,
        name=body.name,
        session_id=body.session_id,
        new_session=body.new_session,
    )
    # Only the derived id is checked: a parent is an input to the derivation, never
    # opened, and an unsafe panel may well spawn a safe child.
    caller.check_session(agent_id, str(sid))
    create = not caller.read_only
    try:
        record, created = await run_in_threadpool(service.open, agent_id, sid, create=create)
    except SessionNotFound:
        if create:
            raise
        raise ReadOnlyToken(
            f"session {str(sid)!r} does not exist and this token is read-only"
        ) from None
    out = {
        "session_id": record.id,
        "partition": record.partition,
        "resumable": resumable,
        "created": created,
    }
    return JSONResponse(out, 201 if created else 200)


@router.get(
    "/{agent_id}/sessions/{session_id}", response_model=SessionOut, summary="Read a session"
)
async def get_session(
    agent_id: str, session_id: str, caller: Caller, service: Sessions
) -> Response:
    caller.check_session(agent_id, session_id)
    record = await run_in_threadpool(service.get, agent_id, session_id)
    body = record.to_json()
    if record.mode == "unsafe" and caller.sees_scope_dirs:
        body["scope_dir"] = str((service.settings.scopes_dir / record.id).absolute())
    return JSONResponse(body)


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

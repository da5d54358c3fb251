"""Export a session as ``.tar.gz``; import one back, all or nothing."""

from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.errors import TooLarge
from sessionbox.ids import parse_session_id
from sessionbox.services.transfer import TransferService

router = APIRouter(prefix="/v1/agents/{agent_id}", tags=["export/import"])
Caller = Annotated[Principal, Depends(principal)]


async def transfer(request: Request) -> TransferService:
    service: TransferService = request.app.state.transfer
    return service


Transfer = Annotated[TransferService, Depends(transfer)]


@router.get(
    "/sessions/{session_id}/export",
    summary="The session (and the agent's applets) as a deterministic .tar.gz",
    response_class=StreamingResponse,
)
async def export(agent_id: str, session_id: str, caller: Caller, service: Transfer) -> Response:
    caller.check_session(agent_id, session_id)
    caller.check_agent(agent_id)
    sid = str(parse_session_id(session_id))
    chunks = await run_in_threadpool(service.export_tar, agent_id, sid)
    return StreamingResponse(
        iterate_in_threadpool(chunks),
        media_type="application/gzip",
        headers={"Content-Disposition": f'attachment; filename="{sid}.tar.gz"'},
    )


@router.post(
    "/import",
    status_code=201,
    summary="Import an exported .tar.gz (all or nothing)",
    openapi_extra={
        "requestBody": {
            "content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
)
async def import_archive(
    request: Request,
    agent_id: str,
    caller: Caller,
    service: Transfer,
    session_id: str | None = None,
) -> Response:
    caller.check_agent(agent_id, write=True)
    if session_id is not None:
        caller.check_session(agent_id, session_id, write=True)
    limit = 2 * service.settings.session_quota_bytes
    spool_dir = service.settings.spool_dir
    with tempfile.SpooledTemporaryFile(
        max_size=1024 * 1024, dir=str(spool_dir) if spool_dir.exists() else None
    ) as body:
        size = 0
        async for piece in request.stream():
            size += len(piece)
            if size > limit:
                raise TooLarge(f"an archive may have at most {limit} bytes")
            body.write(piece)
        body.seek(0)
        plan = await run_in_threadpool(service.read_archive, body)  # type: ignore[arg-type]
    for sid in plan.sessions if session_id is None else ():
        caller.check_session(agent_id, sid, write=True)
    report = await run_in_threadpool(
        lambda: service.import_plan(agent_id, plan, session_id=session_id)
    )
    return JSONResponse(
        {
            "sessions": report.sessions,
            "applets": report.applets,
            "applets_skipped": report.applets_skipped,
        },
        201,
    )

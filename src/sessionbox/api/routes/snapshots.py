"""``/v1/agents/{agent_id}/sessions/{session_id}/snapshot(s)``: csv-explorer session snapshots."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import DeletedOut
from sessionbox.errors import TooLarge
from sessionbox.services.snapshots import (
    MAX_SAFE_INTEGER,
    HistoryItem,
    Snapshot,
    SnapshotService,
    parse_envelope,
)

router = APIRouter(prefix="/v1/agents/{agent_id}/sessions/{session_id}", tags=["snapshots"])
Caller = Annotated[Principal, Depends(principal)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
UpdatedAt = Annotated[int, Path(ge=0, le=MAX_SAFE_INTEGER, description="epoch milliseconds")]


class EnvelopeIn(BaseModel):
    """The body of ``PUT /snapshot`` (validated by the service; this model documents it)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    version: int = Field(ge=0, le=MAX_SAFE_INTEGER)
    updatedAt: int = Field(ge=0, le=MAX_SAFE_INTEGER)
    handleKey: str | None = None
    snapshot: dict[str, Any]


class HandleOut(BaseModel):
    path: str
    exists: bool
    etag: str | None
    code: str | None = None


class EnvelopeOut(EnvelopeIn):
    handle: HandleOut | None = None


class HistoryItemOut(BaseModel):
    updatedAt: int
    size_bytes: int
    created_at: str


class HistoryOut(BaseModel):
    data: list[HistoryItemOut]


async def snapshots(request: Request) -> SnapshotService:
    service: SnapshotService = request.app.state.snapshots
    return service


Snapshots = Annotated[SnapshotService, Depends(snapshots)]


def _response(snapshot: Snapshot, *, with_handle: bool = False) -> Response:
    headers = {"ETag": snapshot.etag, "X-Created-At": snapshot.created_at.isoformat()}
    if not with_handle:  # the stored bytes are the answer: no re-encoding
        return Response(snapshot.raw, media_type="application/json", headers=headers)
    body = json.loads(snapshot.raw)
    body["handle"] = snapshot.handle.to_json() if snapshot.handle else None
    return JSONResponse(body, headers=headers)


def _history_json(item: HistoryItem) -> dict[str, Any]:
    return {
        "updatedAt": item.updated_at,
        "size_bytes": item.size_bytes,
        "created_at": item.created_at.isoformat().replace("+00:00", "Z"),
    }


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{declared} bytes is over the snapshot limit of {limit}")
    buffer = bytearray()
    async for piece in request.stream():
        buffer += piece
        if len(buffer) > limit:
            raise TooLarge(f"the snapshot is over the limit of {limit} bytes")
    return bytes(buffer)


@router.put(
    "/snapshot",
    response_model=EnvelopeIn,
    summary="Save the latest snapshot, rotating the previous one into history",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": EnvelopeIn.model_json_schema()}},
            "required": True,
        }
    },
)
async def put_snapshot(
    request: Request,
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Snapshots,
    if_match: IfMatch = None,
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    limit = service.settings.snapshot_max_bytes
    envelope = parse_envelope(await _body(request, limit), max_bytes=limit)
    snapshot = await run_in_threadpool(
        service.save, agent_id, session_id, envelope, if_match=if_match
    )
    return _response(snapshot)


@router.get("/snapshot", response_model=EnvelopeOut, summary="The latest snapshot")
async def get_snapshot(
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Snapshots,
    resolve_handle: bool = False,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    caller.check_session(agent_id, session_id)
    snapshot = await run_in_threadpool(
        service.latest, agent_id, session_id, resolve_handle=resolve_handle
    )
    if if_none_match and snapshot.etag in if_none_match and not resolve_handle:
        return Response(status_code=304, headers={"ETag": snapshot.etag})
    return _response(snapshot, with_handle=resolve_handle)


@router.delete("/snapshot", response_model=DeletedOut, summary="Delete the latest and history")
async def delete_snapshots(
    agent_id: str, session_id: str, caller: Caller, service: Snapshots
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    count = await run_in_threadpool(service.clear, agent_id, session_id)
    return JSONResponse({"deleted": count})


@router.get("/snapshots", response_model=HistoryOut, summary="Older snapshots, newest first")
async def list_history(
    agent_id: str, session_id: str, caller: Caller, service: Snapshots
) -> Response:
    caller.check_session(agent_id, session_id)
    items = await run_in_threadpool(service.history, agent_id, session_id)
    return JSONResponse({"data": [_history_json(item) for item in items]})


@router.get(
    "/snapshots/{updated_at}", response_model=EnvelopeIn, summary="One snapshot by updatedAt"
)
async def get_one(
    agent_id: str, session_id: str, updated_at: UpdatedAt, caller: Caller, service: Snapshots
) -> Response:
    caller.check_session(agent_id, session_id)
    return _response(await run_in_threadpool(service.get, agent_id, session_id, updated_at))


@router.post(
    "/snapshots/{updated_at}/restore",
    response_model=EnvelopeIn,
    summary="Make a history entry the latest (the current latest goes into history)",
)
async def restore(
    agent_id: str,
    session_id: str,
    updated_at: UpdatedAt,
    caller: Caller,
    service: Snapshots,
    if_match: IfMatch = None,
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    snapshot = await run_in_threadpool(
        service.restore, agent_id, session_id, updated_at, if_match=if_match
    )
    return _response(snapshot)

"""``/v1/agents/{agent_id}/sessions/{session_id}/outputs``: Caco's tool outputs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, WithJsonSchema
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import Body
from sessionbox.services.outputs import OUTPUT_TYPES, Output, OutputService, strings_in

router = APIRouter(prefix="/v1/agents/{agent_id}/sessions/{session_id}/outputs", tags=["outputs"])
Caller = Annotated[Principal, Depends(principal)]

# Media types a browser shows without running anything; every other one is a download.
INLINE_SAFE = frozenset(
    {
        "text/plain",
        "application/json",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "image/bmp",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "video/mp4",
        "video/webm",
    }
)


_METADATA_SCHEMA = {
    "type": "object",
    "description": "OutputMetadata; keys beyond these are kept as given.",
    "properties": {
        "type": {"enum": list(OUTPUT_TYPES)},
        **{key: {"type": "string"} for key in ("createdAt", "path", "command", "highlight")},
        "mimeType": {"type": "string", "examples": ["text/plain"]},
    },
    "required": ["type"],
    "additionalProperties": True,
}


class StoreOutputBody(Body):
    data: str
    encoding: Literal["text", "base64"] = "text"
    metadata: Annotated[dict[str, Any], WithJsonSchema(_METADATA_SCHEMA)]


class ResolveBody(Body):
    text: str | None = None
    messages: list[Any] | None = None


class OutputOut(BaseModel):
    id: str
    marker: str
    metadata: dict[str, Any]
    encoding: str
    size_bytes: int
    etag: str
    created_at: str
    data: str | None = Field(default=None, description="Only when reading one output")


async def outputs(request: Request) -> OutputService:
    service: OutputService = request.app.state.outputs
    return service


Outputs = Annotated[OutputService, Depends(outputs)]


def output_json(output: Output) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": output.id,
        "marker": output.marker,
        "metadata": output.metadata,
        "encoding": output.encoding,
        "size_bytes": output.size_bytes,
        "etag": output.etag,
        "created_at": output.created_at.isoformat().replace("+00:00", "Z"),
    }
    if output.data is not None:
        body["data"] = output.data
    return body


@router.post("", status_code=201, response_model=OutputOut, summary="Store an output")
async def store_output(
    agent_id: str, session_id: str, body: StoreOutputBody, caller: Caller, service: Outputs
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    output = await run_in_threadpool(
        service.store_output,
        agent_id,
        session_id,
        body.data,
        encoding=body.encoding,
        metadata=body.metadata,
    )
    return JSONResponse(output_json(output), 201, headers={"ETag": output.etag})


@router.get("", summary="List outputs (metadata only), in id order")
async def list_outputs(
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Outputs,
    type: str | None = None,
    limit: int | None = Query(None, ge=1),
    cursor: str | None = None,
) -> Response:
    caller.check_session(agent_id, session_id)
    page = await run_in_threadpool(
        service.list_outputs, agent_id, session_id, type=type, limit=limit, cursor=cursor
    )
    return JSONResponse(
        {"data": [output_json(o) for o in page.items], "next_cursor": page.next_cursor}
    )


@router.post("/resolve", summary="Find every [output:out_<n>] marker and return those outputs")
async def resolve(
    agent_id: str, session_id: str, body: ResolveBody, caller: Caller, service: Outputs
) -> Response:
    caller.check_session(agent_id, session_id)
    texts = list(strings_in(body.text)) if body.text is not None else []
    if body.messages is not None:
        texts.extend(strings_in(body.messages))
    found, missing = await run_in_threadpool(service.resolve_markers, agent_id, session_id, texts)
    return JSONResponse({"found": [output_json(o) for o in found], "missing": missing})


@router.get("/{output_id}", response_model=OutputOut, summary="Read one output (or ?raw=1)")
async def get_output(
    agent_id: str,
    session_id: str,
    output_id: str,
    caller: Caller,
    service: Outputs,
    raw: bool = False,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    caller.check_session(agent_id, session_id)
    limit = service.settings.max_file_bytes * 2 if raw else None  # base64 text is 4/3 the bytes
    output = await run_in_threadpool(
        lambda: service.get_output(agent_id, session_id, output_id, max_bytes=limit)
    )
    headers = {"ETag": output.etag}
    if raw:
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Content-Security-Policy"] = "sandbox"
        media = output.media_type
        if media.lower() not in INLINE_SAFE:
            headers["Content-Disposition"] = f'attachment; filename="{output.id}"'
    if if_none_match and output.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    if raw:
        return Response(output.raw, media_type=output.media_type, headers=headers)
    return JSONResponse(output_json(output), headers=headers)


@router.delete("/{output_id}", status_code=204, summary="Delete an output (its id is not reused)")
async def delete_output(
    agent_id: str, session_id: str, output_id: str, caller: Caller, service: Outputs
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    await run_in_threadpool(service.delete_output, agent_id, session_id, output_id)
    return Response(status_code=204)

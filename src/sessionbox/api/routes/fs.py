"""``/v1/agents/{agent_id}/sessions/{session_id}/fs``: the Everruns filesystem contract."""

from __future__ import annotations

import itertools
from typing import Annotated, Any
from urllib.parse import unquote_to_bytes

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from sessionbox import paths, ranges
from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import (
    CreateBody,
    DeletedOut,
    EntryOut,
    FileOut,
    GrepBody,
    GrepOut,
    ListOut,
    MoveBody,
    StatBody,
    UpdateBody,
    decode_content,
    file_json,
    grep_json,
)
from sessionbox.content import Content
from sessionbox.errors import (
    InvalidInput,
    IsADirectory,
    NotFound,
    PathInvalid,
    TooLarge,
)
from sessionbox.services._paging import Page
from sessionbox.services.files import FileService
from sessionbox.store.base import Reader
from sessionbox.types import Entry

_WHOLE_READ = 4096
"""A raw GET first reads a file whole up to this size: the SQL stores' inline size, so a
small file is one joined statement."""


class _AnyPath(PathConvertor):
    """Like ``path`` but matching every character, so a newline reaches path validation."""

    regex = r"[\s\S]*"


register_url_convertor("fspath", _AnyPath())

router = APIRouter(prefix="/v1/agents/{agent_id}/sessions/{session_id}/fs", tags=["filesystem"])
Caller = Annotated[Principal, Depends(principal)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
_JSON_TYPES = ("application/json", "application/merge-patch+json", "text/json")


async def files(request: Request) -> FileService:
    # async, as every dependency: FastAPI runs a plain def one in the thread pool,
    # a hop of ~0.3 ms per request on 2 shared cores (tests/api/test_dependencies.py).
    service: FileService = request.app.state.files
    return service


Files = Annotated[FileService, Depends(files)]


def vpath(request: Request, path: str) -> str:
    """The path from the URL, refusing percent-escapes that are not UTF-8."""
    raw = request.scope.get("raw_path")
    if raw is not None:
        try:
            unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise PathInvalid("the path is not valid UTF-8") from None
    return "/" + path


def _entry_response(entry: Entry, session_id: str, status: int = 200) -> JSONResponse:
    return JSONResponse(entry.to_json(session_id), status, headers={"ETag": entry.etag})


_ACTIONS: dict[str, tuple[type[Any], type[Any]]] = {
    "stat": (StatBody, EntryOut),
    "move": (MoveBody, EntryOut),
    "copy": (MoveBody, EntryOut),
    "grep": (GrepBody, GrepOut),
}


async def _action(
    request: Request,
    name: str,
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: FileService,
    if_match: str | None,
) -> Response:
    raw = await request.body()
    model = _ACTIONS[name][0]
    try:
        body: Any = model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise InvalidInput("the request body is not valid JSON") from None
        raise InvalidInput(
            "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors()
            )
        ) from None
    caller.check_session(agent_id, session_id, write=name in ("move", "copy"))
    if name == "stat":
        entry = await run_in_threadpool(service.stat, agent_id, session_id, body.path)
        return _entry_response(entry, session_id)
    if name == "move":
        entry = await run_in_threadpool(
            service.move,
            agent_id,
            session_id,
            body.from_,
            body.to,
            overwrite=body.overwrite,
            if_match=if_match,
        )
        return _entry_response(entry, session_id)
    if name == "copy":
        entry = await run_in_threadpool(
            service.copy, agent_id, session_id, body.from_, body.to, overwrite=body.overwrite
        )
        return _entry_response(entry, session_id, 201)
    results = await run_in_threadpool(
        service.grep,
        agent_id,
        session_id,
        body.pattern,
        path=body.path,
        path_pattern=body.path_pattern,
        max_matches=body.max_matches,
    )
    return JSONResponse(grep_json(results))


for _prefix in ("/_", "/_actions"):
    for _name, (_model, _out) in _ACTIONS.items():

        def _make(name: str) -> Any:
            async def handler(
                request: Request,
                agent_id: str,
                session_id: str,
                caller: Caller,
                service: Files,
                if_match: IfMatch = None,
            ) -> Response:
                return await _action(request, name, agent_id, session_id, caller, service, if_match)

            return handler

        router.add_api_route(
            f"{_prefix}/{_name}",
            _make(_name),
            methods=["POST"],
            response_model=_out,
            status_code=201 if _name == "copy" else 200,  # a copy creates its target
            summary=f"{_name} action",
            openapi_extra={
                "requestBody": {
                    "content": {"application/json": {"schema": _model.model_json_schema()}},
                    "required": True,
                }
            },
            include_in_schema=_prefix == "/_",
            name=f"fs_{_name}{_prefix.replace('/', '_')}",
        )


@router.post("/_/{name}", include_in_schema=False)
@router.post("/_actions/{name}", include_in_schema=False)
async def unknown_action(
    name: str, agent_id: str, session_id: str, caller: Caller, service: Files
) -> Response:
    """Auth, ids and the session are checked first, as on every route (401/400/404 alike)."""
    caller.check_session(agent_id, session_id)
    await run_in_threadpool(service.stat, agent_id, session_id, "/")
    raise NotFound(f"no such action {name!r}; actions are {', '.join(_ACTIONS)}")


_BYTES = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
# With ``raw=1`` a read answers with the file's own bytes and content type.
_READ_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "JSON, or with `raw=1` the file's bytes", "content": _BYTES},
    206: {"description": "A byte range of the file (`raw=1` with `Range`)", "content": _BYTES},
    304: {"description": "Not modified (`If-None-Match` names the current ETag)"},
}


@router.get(
    "",
    response_model=ListOut | FileOut,
    responses=_READ_DOC,
    summary="Read a file or list a directory",
)
@router.get(
    "/{path:fspath}",
    response_model=ListOut | FileOut,
    responses=_READ_DOC,
    summary="Read a file or list a directory",
)
async def read(
    request: Request,
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Files,
    path: str = "",
    raw: bool = False,
    limit: int | None = Query(None, ge=1),
    cursor: str | None = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
    range_: Annotated[str | None, Header(alias="Range")] = None,
) -> Response:
    caller.check_session(agent_id, session_id)
    target = vpath(request, path)
    if raw:
        return await run_in_threadpool(
            _raw, service, agent_id, session_id, target, if_none_match, range_
        )
    result = await run_in_threadpool(
        service.read_or_list, agent_id, session_id, target, limit=limit, cursor=cursor
    )
    if isinstance(result, Page):
        return JSONResponse(
            {
                "data": [e.to_json(session_id) for e in result.items],
                "next_cursor": result.next_cursor,
            }
        )
    entry, data = result
    if if_none_match and entry.etag in if_none_match:
        return Response(status_code=304, headers={"ETag": entry.etag})
    return JSONResponse(file_json(entry, data, session_id), headers={"ETag": entry.etag})


def _open(service: FileService, agent_id: str, session_id: str, path: str) -> tuple[Entry, Reader]:
    """A file's entry and reader; a small file in ONE statement (the read of a JSON GET:
    session, volume, entry and bytes joined) instead of a transaction of four, which
    halves a raw GET's store time on SQLite and saves three round trips on PostgreSQL.
    A larger file pays one refused attempt, then streams as before."""
    try:
        entry, data = service.read(agent_id, session_id, path, max_bytes=_WHOLE_READ)
    except TooLarge:
        return service.open_file(agent_id, session_id, path)
    return entry, lambda start, end: iter((data[start:end],))


def _raw(
    service: FileService,
    agent_id: str,
    session_id: str,
    path: str,
    if_none_match: str | None,
    range_header: str | None,
) -> Response:
    try:
        entry, reader = _open(service, agent_id, session_id, path)
    except IsADirectoryError:
        raise IsADirectory(f"{path} is a directory; raw reads are for files") from None
    headers = {
        "ETag": entry.etag,
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
    }
    if if_none_match and entry.etag in if_none_match:
        return Response(status_code=304, headers=headers)
    span = ranges.from_header(range_header, entry.size_bytes)
    status = 200 if span is None else 206
    lo, hi = span or (0, entry.size_bytes)
    chunks = reader(lo, hi)
    # Fetch the first chunk before answering: a failure now is still a problem response;
    # once the status line is sent it could only cut the connection.
    pieces = [next(chunks, b"")]
    if len(pieces[0]) == hi - lo:  # the whole body is in hand: every small file
        pieces += itertools.islice(chunks, 1)  # lets a generator finish and close its file
    headers["Content-Length"] = str(hi - lo)
    if status == 206:
        headers["Content-Range"] = f"bytes {lo}-{hi - 1}/{entry.size_bytes}"
    media_type = entry.content_type or "application/octet-stream"
    if len(pieces) == 1 and len(pieces[0]) == hi - lo:
        # A plain response spares the stream's two thread-pool hops per request.
        return Response(pieces[0], status_code=status, media_type=media_type, headers=headers)
    return StreamingResponse(
        itertools.chain(pieces, chunks),
        status_code=status,
        media_type=media_type,
        headers=headers,
    )


@router.post(
    "/{path:fspath}",
    response_model=FileOut | EntryOut,
    status_code=201,
    summary="Create a file or directory (409 if it exists)",
)
async def create(
    request: Request,
    agent_id: str,
    session_id: str,
    body: CreateBody,
    caller: Caller,
    service: Files,
    path: str,
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    target = vpath(request, path)
    if body.is_directory:
        if body.content:
            raise InvalidInput("a directory has no content")
        entry = await run_in_threadpool(service.mkdir, agent_id, session_id, target)
        return _entry_response(entry, session_id, 201)
    data = decode_content(body.content, body.encoding)
    entry, _ = await run_in_threadpool(
        service.write,
        agent_id,
        session_id,
        target,
        Content.of(data),
        mode="create",
        readonly=body.is_readonly,
    )
    return JSONResponse(file_json(entry, data, session_id), 201, headers={"ETag": entry.etag})


_PUT_DOC: dict[str, Any] = {
    "requestBody": {
        "content": {
            "application/json": {"schema": UpdateBody.model_json_schema()},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
        "required": True,
    }
}


@router.put(
    "/{path:fspath}",
    response_model=EntryOut,
    responses={201: {"model": EntryOut, "description": "The file was created"}},
    openapi_extra=_PUT_DOC,
    summary="Write a file (JSON or raw body), creating it if missing",
)
async def update(
    request: Request,
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Files,
    path: str,
    if_match: IfMatch = None,
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    target = vpath(request, path)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in _JSON_TYPES:
        body = await _json_body(request)
        if body.is_directory:
            entry = await run_in_threadpool(
                service.mkdir, agent_id, session_id, target, exist_ok=True
            )
            return _entry_response(entry, session_id)
        if body.content is None:
            if body.is_readonly is None:
                raise InvalidInput("give content, is_readonly, or both")
            entry = await run_in_threadpool(
                service.set_readonly,
                agent_id,
                session_id,
                target,
                body.is_readonly,
                if_match=if_match,
            )
            return _entry_response(entry, session_id)
        content = Content.of(decode_content(body.content, body.encoding))
        readonly = body.is_readonly
        content_type = None
    else:
        service.volume(agent_id, session_id)
        paths.validate_writable(target)
        content = await _spool(request, service)
        readonly = None
        content_type = media if media and media != "application/octet-stream" else None
    entry, created = await run_in_threadpool(
        service.write,
        agent_id,
        session_id,
        target,
        content,
        mode="upsert",
        if_match=if_match,
        readonly=readonly,
        content_type=content_type,
    )
    return _entry_response(entry, session_id, 201 if created else 200)


async def _json_body(request: Request) -> UpdateBody:
    raw = await request.body()
    try:
        return UpdateBody.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise InvalidInput("the request body is not valid JSON") from None
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInput(detail) from None


async def _spool(request: Request, service: FileService) -> Content:
    """Buffer a raw body to a spool file while hashing it, never whole in memory."""
    limit = service.settings.max_file_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"{declared} bytes is over the file size limit of {limit}")
    return await service.spooler().spool_async(request.stream())


@router.delete("", response_model=DeletedOut, summary="Delete everything (recursive=true)")
@router.delete("/{path:fspath}", response_model=DeletedOut, summary="Delete a file or directory")
async def delete(
    request: Request,
    agent_id: str,
    session_id: str,
    caller: Caller,
    service: Files,
    path: str = "",
    recursive: bool = False,
    if_match: IfMatch = None,
) -> Response:
    caller.check_session(agent_id, session_id, write=True)
    count = await run_in_threadpool(
        service.delete,
        agent_id,
        session_id,
        vpath(request, path),
        recursive=recursive,
        if_match=if_match,
    )
    return JSONResponse({"deleted": count})

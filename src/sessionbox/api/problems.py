"""The one place errors become RFC 9457 problem+json."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from sessionbox.errors import SessionboxError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("sessionbox.api")

_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable error code"},
    },
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    key: {"description": text, "content": {MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}}
    for key, text in (
        ("4XX", "The request was refused: RFC 9457 problem+json with a stable `code`."),
        ("5XX", "The service failed or is unavailable (503 carries `Retry-After`)."),
    )
}
"""Documents every error response in the OpenAPI, so clients and fuzzers know the shape."""

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 415: "unsupported"}


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The body of every error response."""
    return {
        "type": f"https://sessionbox.dev/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=MEDIA_TYPE, headers=headers)


def from_error(exc: SessionboxError) -> JSONResponse:
    headers = {"Retry-After": "1"} if exc.status == 503 else None
    return problem_response(
        problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra), headers
    )


def install(app: FastAPI) -> None:
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SessionboxError)
        return from_error(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type")}
            for err in exc.errors()
        ]
        if any(err["type"] == "json_invalid" for err in errors):
            return problem_response(
                problem(400, "body_invalid", "Malformed JSON", "the request body is not valid JSON")
            )
        detail = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in errors
        )
        return problem_response(
            problem(422, "validation_failed", "Invalid request", detail, errors=errors)
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return problem_response(
            problem(exc.status_code, code, code.replace("_", " ").capitalize(), str(exc.detail)),
            dict(exc.headers) if exc.headers else None,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            problem(
                500, "internal", "Internal error", "an unexpected error occurred; it was logged"
            )
        )

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        # The client left mid-body: nothing was stored, and nobody will read this answer.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return problem_response(
            problem(400, "client_disconnected", "Client disconnected", "the body was cut short")
        )

    app.add_exception_handler(SessionboxError, on_error)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)

"""``/v1/tokens``: the admin issues, lists and revokes scoped tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import AGENT_ID_DOC, SESSION_ID_DOC, Body
from sessionbox.services.tokens import TokenService
from sessionbox.types import TokenRecord

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])
Caller = Annotated[Principal, Depends(principal)]


async def tokens(request: Request) -> TokenService:
    service: TokenService = request.app.state.tokens
    return service


Tokens = Annotated[TokenService, Depends(tokens)]


class CreateTokenBody(Body):
    agent_id: str = Field(json_schema_extra=AGENT_ID_DOC)
    mode: Literal["safe", "unsafe"]
    session_id: str | None = Field(default=None, json_schema_extra=SESSION_ID_DOC)
    read_only: bool = False
    ttl_seconds: int | None = Field(default=None, ge=1)


class TokenOut(BaseModel):
    id: str
    agent_id: str
    mode: str
    session_id: str | None
    read_only: bool
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str = Field(description="The secret. Shown once; only its hash is stored.")


class TokenListOut(BaseModel):
    data: list[TokenOut]
    next_cursor: str | None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def token_json(record: TokenRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "agent_id": record.agent_id,
        "mode": record.mode,
        "session_id": record.session_id,
        "read_only": record.read_only,
        "created_at": _iso(record.created_at),
        "expires_at": _iso(record.expires_at),
        "revoked_at": _iso(record.revoked_at),
    }


@router.post("", response_model=IssuedTokenOut, status_code=201, summary="Issue a scoped token")
async def create_token(body: CreateTokenBody, caller: Caller, service: Tokens) -> Response:
    caller.check_admin()
    issued = await run_in_threadpool(
        service.create,
        body.agent_id,
        body.mode,
        session_id=body.session_id,
        read_only=body.read_only,
        ttl_seconds=body.ttl_seconds,
    )
    return JSONResponse({"token": issued.token, **token_json(issued.record)}, 201)


@router.get("", response_model=TokenListOut, summary="List tokens (never their secrets)")
async def list_tokens(
    caller: Caller,
    service: Tokens,
    agent_id: str | None = None,
    limit: int | None = Query(None, ge=1),
    cursor: str | None = None,
) -> Response:
    caller.check_admin()
    page = await run_in_threadpool(service.list, agent_id=agent_id, limit=limit, cursor=cursor)
    return JSONResponse(
        {"data": [token_json(t) for t in page.items], "next_cursor": page.next_cursor}
    )


@router.delete("/{token_id}", status_code=204, summary="Revoke a token at once")
async def revoke_token(token_id: str, caller: Caller, service: Tokens) -> Response:
    caller.check_admin()
    await run_in_threadpool(service.revoke, token_id)
    return Response(status_code=204)

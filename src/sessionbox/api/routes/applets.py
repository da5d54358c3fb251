"""``/v1/agents/{agent_id}/applets``: applets shared by all of an agent's sessions."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from sessionbox.api import view_links
from sessionbox.api.auth import Principal, principal
from sessionbox.api.schemas import Body
from sessionbox.errors import InvalidInput, Unauthorized
from sessionbox.ids import validate_agent_id
from sessionbox.services.applets import Applet, AppletService

router = APIRouter(prefix="/v1/agents/{agent_id}/applets", tags=["applets"])
Caller = Annotated[Principal, Depends(principal)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


class AppletBody(Body):
    name: str
    description: str | None = None
    html: str
    js: str | None = None
    css: str | None = None


async def applets(request: Request) -> AppletService:
    service: AppletService = request.app.state.applets
    return service


Applets = Annotated[AppletService, Depends(applets)]


def applet_json(applet: Applet) -> dict[str, Any]:
    return {
        **applet.summary(),
        "version": applet.version,
        "html": applet.html,
        "js": applet.js,
        "css": applet.css,
        "state": applet.state,
    }


@router.get("", summary="List the agent's applets")
async def list_applets(agent_id: str, caller: Caller, service: Applets) -> Response:
    caller.check_agent(agent_id)
    found = await run_in_threadpool(service.list, agent_id)
    return JSONResponse([{**a.summary(), "version": a.version} for a in found])


@router.put(
    "/{slug}",
    summary="Create or replace an applet (its state is kept)",
    responses={201: {"description": "The applet was created"}},
)
async def save_applet(
    agent_id: str, slug: str, body: AppletBody, caller: Caller, service: Applets
) -> Response:
    caller.check_agent(agent_id, write=True)
    applet, created = await run_in_threadpool(
        lambda: service.save(
            agent_id,
            slug,
            name=body.name,
            html=body.html,
            description=body.description,
            js=body.js,
            css=body.css,
        )
    )
    return JSONResponse(applet_json(applet), 201 if created else 200)


@router.get("/{slug}", summary="Read an applet: content, metadata and state")
async def load_applet(agent_id: str, slug: str, caller: Caller, service: Applets) -> Response:
    caller.check_agent(agent_id)
    applet = await run_in_threadpool(service.load, agent_id, slug)
    return JSONResponse(applet_json(applet))


@router.delete("/{slug}", status_code=204, summary="Delete an applet with its state and versions")
async def delete_applet(agent_id: str, slug: str, caller: Caller, service: Applets) -> Response:
    caller.check_agent(agent_id, write=True)
    await run_in_threadpool(service.delete, agent_id, slug)
    return Response(status_code=204)


@router.get("/{slug}/state", summary="The applet's state object (with an ETag)")
async def get_state(agent_id: str, slug: str, caller: Caller, service: Applets) -> Response:
    caller.check_agent(agent_id)
    state, etag = await run_in_threadpool(service.get_state, agent_id, slug)
    return JSONResponse(state, headers={"ETag": etag})


@router.put(
    "/{slug}/state",
    summary="Replace the state; If-Match makes it 412 when stale",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": True,
        }
    },
)
async def set_state(
    request: Request,
    agent_id: str,
    slug: str,
    caller: Caller,
    service: Applets,
    if_match: IfMatch = None,
) -> Response:
    caller.check_agent(agent_id, write=True)
    raw = await request.body()
    if len(raw) > service.settings.max_file_bytes:
        raise InvalidInput("the state is over the file size limit")
    try:
        state = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("the request body is not valid JSON") from None
    if not isinstance(state, dict):
        raise InvalidInput("the state must be a JSON object")
    state, etag = await run_in_threadpool(
        lambda: service.set_state(agent_id, slug, state, if_match=if_match)
    )
    return JSONResponse(state, headers={"ETag": etag})


@router.get("/{slug}/versions", summary="The kept versions of the content, newest first")
async def versions(agent_id: str, slug: str, caller: Caller, service: Applets) -> Response:
    caller.check_agent(agent_id)
    return JSONResponse(await run_in_threadpool(service.versions, agent_id, slug))


@router.post("/{slug}/versions/{version}/restore", summary="Make an old version current again")
async def restore(
    agent_id: str, slug: str, version: int, caller: Caller, service: Applets
) -> Response:
    caller.check_agent(agent_id, write=True)
    applet = await run_in_threadpool(service.restore, agent_id, slug, version)
    return JSONResponse(applet_json(applet))


@router.post("/{slug}/view-link", summary="A short-lived URL of the view, for an <iframe src>")
async def view_link(
    request: Request, agent_id: str, slug: str, caller: Caller, service: Applets
) -> Response:
    caller.check_agent(agent_id)
    await run_in_threadpool(service.load, agent_id, slug)  # 404 before signing
    url = f"/v1/agents/{quote(agent_id, safe='')}/applets/{quote(slug, safe='')}/view"
    admin_token: str | None = request.app.state.settings.admin_token
    if admin_token is None:
        return JSONResponse({"url": url, "expires_at": None})
    expires, sig = view_links.sign(admin_token, agent_id, slug)
    query = urlencode({"expires": expires, "sig": sig})
    return JSONResponse({"url": f"{url}?{query}", "expires_at": expires})


@router.get("/{slug}/view", response_class=HTMLResponse, summary="The assembled page, sandboxed")
async def view(
    request: Request,
    agent_id: str,
    slug: str,
    service: Applets,
    expires: str | None = None,
    sig: str | None = None,
) -> Response:
    admin_token: str | None = request.app.state.settings.admin_token
    if sig is not None and admin_token is not None:
        validate_agent_id(agent_id)
        if expires is None or not expires.isdecimal() or len(expires) > 12:
            raise Unauthorized("the view link is not valid")
        view_links.verify(admin_token, agent_id, slug, int(expires), sig)
    else:
        caller = await principal(request)
        caller.check_agent(agent_id)
    page = await run_in_threadpool(service.view, agent_id, slug)
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": "sandbox allow-scripts",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
    )

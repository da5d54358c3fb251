"""What the HTTP client and the REST API agree on: URLs, JSON values and problems.

Entries and sessions carry their own JSON form (``sessionbox.types``); the values of
the other services are rebuilt here.

Kept apart from the transport code so ``http.py`` reads as the list of
operations, and so a second client (a CLI, a browser test) can reuse it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from sessionbox import paths
from sessionbox.errors import SessionboxError, error_for_code
from sessionbox.ids import parse_session_id, validate_agent_id
from sessionbox.services.applets import Applet, validate_slug
from sessionbox.services.grep import GrepFile, GrepMatch
from sessionbox.services.outputs import Output
from sessionbox.services.snapshots import Envelope, Handle, HistoryItem, Snapshot


def sessions_url(agent_id: str) -> str:
    """Ids are validated here too: httpx would fold a ``..`` id into another route."""
    return f"/v1/agents/{quote(validate_agent_id(agent_id), safe='')}/sessions"


def session_url(agent_id: str, session_id: str) -> str:
    return f"{sessions_url(agent_id)}/{quote(str(parse_session_id(session_id)), safe='')}"


def fs_url(agent_id: str, session_id: str, path: str) -> str:
    """The ``/fs`` URL of ``path``; every segment is percent-encoded (``%``, ``#``, ``?``)."""
    vpath = paths.validate(path)
    base = f"{session_url(agent_id, session_id)}/fs"
    return base if vpath == paths.ROOT else base + quote(vpath, safe="/")


def action_url(agent_id: str, session_id: str, name: str) -> str:
    return f"{session_url(agent_id, session_id)}/fs/_/{name}"


def grep_from(body: dict[str, Any]) -> list[GrepFile]:
    return [
        GrepFile(
            path=item["path"],
            matches=[GrepMatch(m["path"], m["line_number"], m["line"]) for m in item["matches"]],
        )
        for item in body["data"]
    ]


_STANDARD = {"type", "title", "status", "detail", "code"}


def error_from(response: httpx.Response) -> SessionboxError:
    """The exception the server raised, rebuilt from its problem+json (or its status)."""
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        cls = error_for_code(body["code"], response.status_code)
        extra = {k: v for k, v in body.items() if k not in _STANDARD}
        return cls(str(body.get("detail") or ""), **extra)
    cls = error_for_code("", response.status_code)
    text = response.text[:200] if response.content else response.reason_phrase
    return cls(f"HTTP {response.status_code} from {response.request.url}: {text}")


def snapshot_from(response: httpx.Response) -> Snapshot:
    """A ``Snapshot`` from a snapshot answer: the stored JSON, its ETag and creation time."""
    raw = response.content
    value = json.loads(raw)
    with_handle = "handle" in value
    handle = value.pop("handle", None)
    envelope = Envelope(
        version=value["version"],
        updated_at=value["updatedAt"],
        handle_key=value.get("handleKey"),
        snapshot=value["snapshot"],
    )
    if with_handle:  # the server re-encoded the body to add the handle: store-form bytes again
        raw = envelope.encode()
    created = response.headers.get("X-Created-At")
    return Snapshot(
        envelope,
        response.headers["ETag"],
        len(raw),
        datetime.fromisoformat(created) if created else datetime.now(UTC),
        raw,
        Handle(**handle) if handle else None,
    )


def history_from(body: dict[str, Any]) -> list[HistoryItem]:
    return [
        HistoryItem(
            item["updatedAt"], item["size_bytes"], datetime.fromisoformat(item["created_at"])
        )
        for item in body["data"]
    ]


def output_from(body: dict[str, Any]) -> Output:
    return Output(
        id=body["id"],
        metadata=body["metadata"],
        encoding=body["encoding"],
        size_bytes=body["size_bytes"],
        etag=body["etag"],
        created_at=datetime.fromisoformat(body["created_at"]),
        data=body.get("data"),
    )


def applet_from(body: dict[str, Any]) -> Applet:
    return Applet(
        slug=body["slug"],
        name=body["name"],
        description=body["description"],
        created_at=body["createdAt"],
        updated_at=body["updatedAt"],
        version=body.get("version", 0),
        html=body.get("html"),
        js=body.get("js"),
        css=body.get("css"),
        state=body.get("state"),
    )


def outputs_url(agent_id: str, session_id: str, output_id: str | None = None) -> str:
    base = f"{session_url(agent_id, session_id)}/outputs"
    return base if output_id is None else f"{base}/{quote(output_id, safe='')}"


def applet_url(agent_id: str, slug: str | None = None) -> str:
    base = f"/v1/agents/{quote(validate_agent_id(agent_id), safe='')}/applets"
    return base if slug is None else f"{base}/{quote(validate_slug(slug), safe='')}"

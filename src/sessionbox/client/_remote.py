"""Snapshots, outputs and applets over HTTP: the in-process ``Snapshots``, ``Outputs``
and ``Applets`` (client/local.py, client/_caco.py) method for method.

Kept apart from ``http.py`` (the files handle and the client) so each module
stays one concept; both share ``http._Transport`` for retries and problems.
"""

from __future__ import annotations

import base64
import builtins
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sessionbox.client import _wire
from sessionbox.services.applets import Applet
from sessionbox.services.outputs import Output, format_marker, parse_output_id
from sessionbox.services.snapshots import Envelope, HistoryItem, Snapshot, validate_envelope

if TYPE_CHECKING:
    from sessionbox.client.http import _Transport


class AsyncSnapshots:
    """A session's state snapshots; ``save`` is a PUT, so it is retried like one."""

    def __init__(self, wire: _Transport, agent_id: str, session_id: str) -> None:
        self._t = wire
        self._a = agent_id
        self._s = session_id

    def _url(self, tail: str) -> str:
        return f"{_wire.session_url(self._a, self._s)}/{tail}"

    async def save(
        self,
        snapshot: dict[str, Any],
        *,
        version: int = 1,
        updated_at: int | None = None,
        handle_key: str | None = None,
        etag: str | None = None,
    ) -> Snapshot:
        stamp = int(time.time() * 1000) if updated_at is None else updated_at
        envelope = validate_envelope(
            {"version": version, "updatedAt": stamp, "handleKey": handle_key, "snapshot": snapshot}
        )
        return await self.save_envelope(envelope, etag=etag)

    async def save_envelope(self, envelope: Envelope, *, etag: str | None = None) -> Snapshot:
        response = await self._t.send(
            "PUT",
            self._url("snapshot"),
            idempotent=True,
            etag=etag,
            content=envelope.encode(),
            headers={"Content-Type": "application/json"},
        )
        return _wire.snapshot_from(response)

    async def latest(self, *, resolve_handle: bool = False) -> Snapshot:
        """The latest snapshot; ``SnapshotNotFound`` when none was saved."""
        params = {"resolve_handle": "true"} if resolve_handle else {}
        response = await self._t.send("GET", self._url("snapshot"), idempotent=True, params=params)
        return _wire.snapshot_from(response)

    async def history(self) -> builtins.list[HistoryItem]:
        """Older snapshots (not the latest), newest first."""
        return _wire.history_from(
            await self._t.json("GET", self._url("snapshots"), idempotent=True)
        )

    async def get(self, updated_at: int) -> Snapshot:
        url = self._url(f"snapshots/{int(updated_at)}")
        return _wire.snapshot_from(await self._t.send("GET", url, idempotent=True))

    async def restore(self, updated_at: int, *, etag: str | None = None) -> Snapshot:
        url = self._url(f"snapshots/{int(updated_at)}/restore")
        return _wire.snapshot_from(await self._t.send("POST", url, idempotent=False, etag=etag))

    async def clear(self) -> int:
        body = await self._t.json("DELETE", self._url("snapshot"), idempotent=True)
        return int(body["deleted"])


class AsyncOutputs:
    """A session's tool outputs; ``store_output`` returns an id to put in chat as a marker."""

    def __init__(self, wire: _Transport, agent_id: str, session_id: str) -> None:
        self._t = wire
        self._a = agent_id
        self._s = session_id

    def _url(self, output_id: str | None = None) -> str:
        if output_id is not None:
            parse_output_id(output_id)  # OutputNotFound, as in-process, before any request
        return _wire.outputs_url(self._a, self._s, output_id)

    async def store_output(self, data: str | bytes, metadata: dict[str, Any]) -> Output:
        """Store text (``str``) or binary (``bytes``, sent as base64); never retried."""
        if isinstance(data, bytes):
            body = {"data": base64.b64encode(data).decode("ascii"), "encoding": "base64"}
        else:
            body = {"data": data, "encoding": "text"}
        reply = await self._t.json(
            "POST", self._url(), idempotent=False, json={**body, "metadata": metadata}
        )
        return _wire.output_from(reply)

    async def get_output(self, output_id: str) -> Output:
        return _wire.output_from(await self._t.json("GET", self._url(output_id), idempotent=True))

    async def list_outputs(self, *, type: str | None = None) -> builtins.list[Output]:
        """Every output's metadata (all pages), in id order."""
        found: builtins.list[Output] = []
        params: dict[str, str] = {"type": type} if type is not None else {}
        while True:
            page = await self._t.json("GET", self._url(), idempotent=True, params=params)
            found.extend(_wire.output_from(item) for item in page["data"])
            if page["next_cursor"] is None:
                return found
            params = {**params, "cursor": page["next_cursor"]}

    async def delete_output(self, output_id: str) -> None:
        await self._t.send("DELETE", self._url(output_id), idempotent=True)

    async def resolve_markers(
        self, messages: str | Iterable[Any]
    ) -> tuple[builtins.list[Output], builtins.list[str]]:
        """(found, missing ids) for every marker in a text or a list of chat messages."""
        body = {"text": messages} if isinstance(messages, str) else {"messages": list(messages)}
        reply = await self._t.json("POST", self._url() + "/resolve", idempotent=True, json=body)
        return [_wire.output_from(item) for item in reply["found"]], list(reply["missing"])

    @staticmethod
    def format_marker(output_id: str) -> str:
        return format_marker(output_id)


class AsyncApplets:
    """An agent's applets, shared by all its sessions."""

    def __init__(self, wire: _Transport, agent_id: str) -> None:
        self._t = wire
        self._a = agent_id

    def _url(self, slug: str | None = None, tail: str = "") -> str:
        return _wire.applet_url(self._a, slug) + tail

    async def save(
        self,
        slug: str,
        *,
        name: str,
        html: str,
        description: str | None = None,
        js: str | None = None,
        css: str | None = None,
    ) -> Applet:
        body = {"name": name, "html": html, "description": description, "js": js, "css": css}
        body = {k: v for k, v in body.items() if v is not None}
        return _wire.applet_from(
            await self._t.json("PUT", self._url(slug), idempotent=True, json=body)
        )

    async def load(self, slug: str) -> Applet:
        return _wire.applet_from(await self._t.json("GET", self._url(slug), idempotent=True))

    async def list(self) -> builtins.list[Applet]:
        return [
            _wire.applet_from(item)
            for item in await self._t.json("GET", self._url(), idempotent=True)
        ]

    async def delete(self, slug: str) -> None:
        await self._t.send("DELETE", self._url(slug), idempotent=True)

    async def get_state(self, slug: str) -> tuple[dict[str, Any], str]:
        """The state and its ETag; pass the ETag to ``set_state`` to refuse stale writes."""
        response = await self._t.send("GET", self._url(slug, "/state"), idempotent=True)
        return response.json(), response.headers["ETag"]

    async def set_state(self, slug: str, state: dict[str, Any], *, etag: str | None = None) -> str:
        response = await self._t.send(
            "PUT", self._url(slug, "/state"), idempotent=True, etag=etag, json=state
        )
        return response.headers["ETag"]

    async def versions(self, slug: str) -> builtins.list[dict[str, Any]]:
        reply: builtins.list[dict[str, Any]] = await self._t.json(
            "GET", self._url(slug, "/versions"), idempotent=True
        )
        return reply

    async def restore(self, slug: str, version: int) -> Applet:
        url = self._url(slug, f"/versions/{int(version)}/restore")
        return _wire.applet_from(await self._t.json("POST", url, idempotent=False))

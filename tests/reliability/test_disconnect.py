"""A client that disconnects mid-upload is not an internal error, and nothing is stored.

Regression: ``ClientDisconnect`` from the body stream was logged as an unhandled
500 (seen in the load test under heavy machine load).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from sessionbox.api.app import create_app
from sessionbox.config import Settings
from sessionbox.paths import VPath
from sessionbox.store.base import Store
from sessionbox.types import VolumeKey


def test_disconnect_mid_upload_is_not_a_500(
    settings_and_store: tuple[Settings, Store], agent: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings, store = settings_and_store
    app = create_app(settings, store)
    store.create_session(agent, "safe_named_gone", "safe", "named")
    path = f"/v1/agents/{agent}/sessions/safe_named_gone/fs/upload.bin"
    sent: list[dict[str, Any]] = []
    chunks = [
        {"type": "http.request", "body": b"first part", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/octet-stream"), (b"host", b"t")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    with caplog.at_level(logging.ERROR, logger="sessionbox.api"):
        asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    volume = VolumeKey(agent, "safe_named_gone", "files")
    assert store.view(volume, lambda vol: vol.list(VPath("/"), limit=10)) == []

"""The fs state machine of ``tests/store/test_stateful.py``, driven over real HTTP, every store.

Same rules, same model; the only change is the transport: each operation is a
request to a live server and every error comes back as problem+json, mapped to
its class by ``code``. So the API layer (routing, bodies, error mapping) is held
to the model too, not only the store.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from sessionbox.errors import error_for_code
from tests.reliability.conftest import env_int
from tests.store.test_stateful import machine_for


@dataclass(frozen=True)
class Listed:
    path: str
    is_directory: bool
    is_readonly: bool


class HttpFiles:
    """The ``Files`` methods the state machine uses, as HTTP requests."""

    def __init__(self, client: httpx.Client, base: str) -> None:
        self.client = client
        self.base = base

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            body = response.json()
            raise error_for_code(body["code"], body["status"])(body["detail"])
        return response.json()

    def write(self, path: str, data: bytes) -> None:
        body = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
        self._ok(self.client.put(f"{self.base}{path}", json=body))

    def make_dir(self, path: str) -> None:
        self._ok(self.client.post(f"{self.base}{path}", json={"is_directory": True}))

    def remove(self, path: str, *, recursive: bool) -> None:
        params = {"recursive": "true"} if recursive else {}
        self._ok(self.client.delete(f"{self.base}{path}", params=params))

    def rename(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        body = {"from": src, "to": dst, "overwrite": overwrite}
        self._ok(self.client.post(f"{self.base}/_/move", json=body))

    def copy(self, src: str, dst: str, *, overwrite: bool = False) -> None:
        body = {"from": src, "to": dst, "overwrite": overwrite}
        self._ok(self.client.post(f"{self.base}/_/copy", json=body))

    def set_readonly(self, path: str, flag: bool) -> None:
        self._ok(self.client.put(f"{self.base}{path}", json={"is_readonly": flag}))

    def list(self, path: str) -> list[Listed]:
        page = self._ok(self.client.get(self.base + ("" if path == "/" else path)))
        return [Listed(e["path"], e["is_directory"], e["is_readonly"]) for e in page["data"]]

    def read(self, path: str) -> bytes:
        return self.client.get(f"{self.base}{path}", params={"raw": "1"}).content


class HttpBox:
    """Just enough of ``Sessionbox`` for ``machine_for``: sessions made over HTTP."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    def create_session(self, agent: str, session_id: str) -> Any:
        created = self.client.post(f"/v1/agents/{agent}/sessions", json={"id": session_id})
        assert created.status_code == 201, created.text
        return type("Record", (), {"id": created.json()["id"]})

    def session(self, agent: str, session_id: str) -> Any:
        files = HttpFiles(self.client, f"/v1/agents/{agent}/sessions/{session_id}/fs")
        return type("Session", (), {"files": files})


def test_http_fs_matches_the_model(http: httpx.Client, agent: str) -> None:
    run_state_machine_as_test(
        machine_for(HttpBox(http), agent),  # type: ignore[arg-type]
        settings=settings(
            max_examples=env_int("SESSIONBOX_STATEFUL_EXAMPLES", 6),
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )

"""With SESSIONBOX_ADMIN_TOKEN set, every /v1 request needs it (issue 3 §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_fs_api import problem
from tests.conftest import LiveServer, http_client, small_limits

TOKEN = "s3cret-admin-token"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("guarded")
    server = LiveServer(small_limits(data, admin_token=TOKEN)).start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": TOKEN},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
def test_requests_without_the_token_are_401(guarded: LiveServer, headers: dict[str, str]) -> None:
    with http_client(guarded.url) as client:
        problem(client.get("/v1/agents", headers=headers), 401, "unauthorized")
        problem(client.post("/v1/agents/a/sessions", json={}, headers=headers), 401, "unauthorized")


def test_the_admin_token_opens_everything(guarded: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with http_client(guarded.url, headers=auth) as client:
        sid = client.post("/v1/agents/a/sessions", json={}).json()["id"]
        assert (
            client.put(f"/v1/agents/a/sessions/{sid}/fs/x", json={"content": "1"}).status_code
            == 201
        )
    with http_client(guarded.url) as anonymous:
        assert anonymous.get("/healthz").status_code == 200

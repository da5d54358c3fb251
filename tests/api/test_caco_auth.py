"""The outputs, applets and export/import routes need the token like every /v1 route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.test_fs_api import problem
from tests.conftest import LiveServer, http_client, small_limits

TOKEN = "caco-admin-token"
S = "/v1/agents/a/sessions/safe_named_s"
ROUTES = [
    ("POST", f"{S}/outputs", {"data": "x", "metadata": {"type": "raw"}}),
    ("GET", f"{S}/outputs", None),
    ("GET", f"{S}/outputs/out_1", None),
    ("DELETE", f"{S}/outputs/out_1", None),
    ("POST", f"{S}/outputs/resolve", {"text": "[output:out_1]"}),
    ("GET", "/v1/agents/a/applets", None),
    ("PUT", "/v1/agents/a/applets/x", {"name": "x", "html": "x"}),
    ("GET", "/v1/agents/a/applets/x/view", None),
    ("PUT", "/v1/agents/a/applets/x/state", {}),
    ("POST", "/v1/agents/a/applets/x/versions/1/restore", None),
    ("GET", f"{S}/export", None),
    ("POST", "/v1/agents/a/import", None),
]


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data: Path = tmp_path_factory.mktemp("guarded-caco")
    server = LiveServer(small_limits(data, admin_token=TOKEN)).start()
    yield server
    server.stop()


@pytest.mark.parametrize(("method", "url", "body"), ROUTES)
def test_caco_routes_need_the_token(
    guarded: LiveServer, method: str, url: str, body: object
) -> None:
    with http_client(guarded.url) as client:
        problem(client.request(method, url, json=body), 401, "unauthorized")
        authed = client.request(
            method, url, json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert authed.status_code != 401 and authed.status_code < 500, authed.text

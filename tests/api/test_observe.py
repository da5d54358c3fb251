"""The operator's view (issue 21): X-Request-Id on every answer, Prometheus metrics at
/metrics (off unless enabled, guarded like /v1), a JSON access log; on every store."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_fs_api import problem
from tests.conftest import STORES, LiveServer, http_client, small_limits

TOKEN = "metrics-admin-token"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _server(data: Path, store: str, postgres_url: str, **settings: Any) -> LiveServer:
    extra: dict[str, Any] = dict(settings)
    if store == "postgres":
        extra["store"] = postgres_url
    if store == "directory":
        extra["store"] = f"dir:///{data / 'dirstore'}"
    return LiveServer(small_limits(data, **extra))


@pytest.fixture(scope="module", params=STORES)
def observed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, postgres_url: str
) -> Iterator[LiveServer]:
    """A server with metrics and the access log on; a route that fails, for the 500 case."""
    server = _server(tmp_path_factory.mktemp("observed"), request.param, postgres_url, metrics=True)

    async def boom() -> None:
        raise RuntimeError("a bug")

    server.app.add_api_route("/boom", boom)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(observed: LiveServer) -> Iterator[httpx.Client]:
    with http_client(observed.url, timeout=30) as c:
        yield c


def scrape(client: httpx.Client) -> dict[str, float]:
    """Every sample of /metrics as ``name{label="v",...}`` (labels sorted) -> value."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}"] = s.value
    return samples


def _requests(samples: dict[str, float], method: str, route: str, status: int) -> float:
    key = f'sessionbox_http_requests_total{{method="{method}",route="{route}",status="{status}"}}'
    return samples.get(key, 0.0)


FS = "/v1/agents/{agent_id}/sessions/{session_id}/fs/{path:fspath}"


def test_every_answer_carries_a_request_id(client: httpx.Client) -> None:
    made = client.get("/healthz").headers["x-request-id"]
    assert UUID.fullmatch(made)
    assert client.get("/healthz").headers["x-request-id"] != made
    assert (
        client.get("/healthz", headers={"X-Request-Id": "req-42.a:b"}).headers["x-request-id"]
        == "req-42.a:b"
    )
    for insane in ("has space", "x" * 129, 'quote"d', "semi;colon", ""):
        echoed = client.get("/healthz", headers={"X-Request-Id": insane}).headers["x-request-id"]
        assert UUID.fullmatch(echoed), insane
    for response in (
        client.get("/nowhere"),  # 404 from the router
        client.delete("/healthz"),  # 405
        _boom(client),  # 500 made by Starlette's error middleware, inside the observer
    ):
        assert UUID.fullmatch(response.headers["x-request-id"]), response.status_code


def _boom(client: httpx.Client) -> httpx.Response:
    """GET /boom on a connection of its own: uvicorn closes the one an app raised on."""
    with http_client(str(client.base_url), timeout=30) as own:
        response = own.get("/boom")
    assert response.status_code == 500
    return response


def test_metrics_count_requests_by_route_template_and_status(
    client: httpx.Client, agent: str
) -> None:
    before = scrape(client)
    sid = client.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    base = f"/v1/agents/{agent}/sessions/{sid}/fs"
    for n in range(3):
        assert client.put(f"{base}/dir/{n}.txt", content=b"x").status_code == 201
        assert client.get(f"{base}/dir/{n}.txt", params={"raw": 1}).content == b"x"
    problem(client.get(f"{base}/missing.txt"), 404, "not_found")
    _boom(client)
    client.get("/static/ui/app.js")
    after = scrape(client)

    def grew(method: str, route: str, status: int) -> float:
        return _requests(after, method, route, status) - _requests(before, method, route, status)

    assert grew("PUT", FS, 201) == 3
    assert grew("GET", FS, 200) == 3
    assert grew("GET", FS, 404) == 1
    assert grew("GET", "/boom", 500) == 1
    assert grew("GET", "/static/{path}", 200) == 1
    latency = 'sessionbox_http_request_duration_seconds_count{method="GET",route="' + FS + '"}'
    assert after[latency] - before.get(latency, 0) == 4
    # The store's own calls are timed too, by method name.
    store_ops = {
        k: v
        for k, v in after.items()
        if k.startswith("sessionbox_store_operation_duration_seconds_count") and v
    }
    assert any("create_session" in k for k in store_ops), store_ops
    assert after["sessionbox_threadpool_size{}"] > 0
    assert "process_cpu_seconds_total{}" in after


def test_labels_stay_bounded_whatever_the_paths_and_methods(
    client: httpx.Client, agent: str
) -> None:
    """A label per raw path would grow without bound: unmatched paths share one label,
    file paths share their route's template, an unusual method is OTHER."""
    sid = client.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    for _ in range(20):
        client.get(f"/{secrets.token_hex(8)}/{secrets.token_hex(4)}")
        client.get(f"/v1/agents/{agent}/sessions/{sid}/fs/{secrets.token_hex(8)}")
    client.request("PROPFIND", "/healthz")
    samples = scrape(client)
    routes = {
        m.group(1)
        for k in samples
        if (m := re.search(r'^sessionbox_http_requests_total\{.*route="([^"]*)"', k))
    }
    assert not any(re.search(r"[0-9a-f]{8}", r) for r in routes), routes
    assert "<unmatched>" in routes
    assert _requests(samples, "OTHER", "/healthz", 405) >= 1


def test_change_feed_subscribers_are_counted(
    client: httpx.Client, observed: LiveServer, agent: str
) -> None:
    sid = client.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
    with (
        http_client(observed.url, timeout=30) as sse,
        sse.stream("GET", f"/v1/agents/{agent}/sessions/{sid}/events") as feed,
    ):
        assert feed.status_code == 200
        lines = feed.iter_lines()
        while next(lines) != "event: ready":
            pass  # 'ready' comes once the server has subscribed
        assert scrape(client)["sessionbox_change_feed_subscribers{}"] >= 1


def test_metrics_are_off_unless_enabled(live_server: LiveServer) -> None:
    with http_client(live_server.url) as client:
        problem(client.get("/metrics"), 404, "not_found")
        assert UUID.fullmatch(client.get("/healthz").headers["x-request-id"])


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, postgres_url: str) -> Iterator[LiveServer]:
    server = _server(
        tmp_path_factory.mktemp("guarded"), "sqlite", postgres_url, metrics=True, admin_token=TOKEN
    ).start()
    yield server
    server.stop()


def test_metrics_behind_the_admin_token_when_the_server_has_one(guarded: LiveServer) -> None:
    admin = {"Authorization": f"Bearer {TOKEN}"}
    with http_client(guarded.url) as client:
        problem(client.get("/metrics"), 401, "unauthorized")
        problem(
            client.get("/metrics", headers={"Authorization": "Bearer nope"}), 401, "unauthorized"
        )
        made = client.post("/v1/tokens", json={"agent_id": "a", "mode": "unsafe"}, headers=admin)
        assert made.status_code == 201, made.text
        scoped = {"Authorization": f"Bearer {made.json()['token']}"}
        problem(client.get("/metrics", headers=scoped), 403, "forbidden")
        assert client.get("/metrics", headers=admin).status_code == 200


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(record.getMessage()))


def test_the_access_log_is_one_json_line_per_request(
    tmp_path: Path, postgres_url: str, agent: str
) -> None:
    lines = _Lines()
    logger = logging.getLogger("sessionbox.access")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    server = _server(tmp_path, "sqlite", postgres_url, access_log=True).start()
    try:
        with http_client(server.url, timeout=30) as client:
            sid = client.post(f"/v1/agents/{agent}/sessions", json={}).json()["id"]
            put = client.put(
                f"/v1/agents/{agent}/sessions/{sid}/fs/a/b.txt",
                content=b"hello",
                headers={"X-Request-Id": "trace-1"},
            )
            assert put.status_code == 201
            client.get(f"/v1/agents/{agent}/sessions/{sid}/fs/a/b.txt", params={"raw": 1})
    finally:
        server.stop()
        logger.removeHandler(lines)
    put_line = next(line for line in lines.lines if line["request_id"] == "trace-1")
    assert put_line["method"] == "PUT" and put_line["status"] == 201
    assert (
        put_line["route"] == FS
        and put_line["path"] == f"/v1/agents/{agent}/sessions/{sid}/fs/a/b.txt"
    )
    assert put_line["agent"] == agent and put_line["session"] == sid
    assert put_line["duration_ms"] >= 0 and put_line["client"].startswith("127.0.0.1:")
    read = [line for line in lines.lines if line["method"] == "GET"][-1]
    assert read["bytes_out"] == 5 and UUID.fullmatch(read["request_id"])

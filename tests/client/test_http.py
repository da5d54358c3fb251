"""What only the HTTP client has: retries, auth, the async API, the transport seam."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import sessionbox
from sessionbox.api.app import create_app
from sessionbox.client import _wire
from sessionbox.client.protocols import AsyncSessionboxApi
from tests.conftest import LiveServer, small_limits


class Flaky(httpx.AsyncBaseTransport):
    """Answers the first ``failures`` requests with 503 (or drops them), then forwards."""

    def __init__(self, failures: int, *, drop: bool = False) -> None:
        self.failures = failures
        self.drop = drop
        self.seen: list[str] = []
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.method)
        if self.failures > 0:
            self.failures -= 1
            if self.drop:
                raise httpx.ReadError("connection reset", request=request)
            body = {"code": "unavailable", "status": 503, "title": "t", "detail": "busy"}
            return httpx.Response(503, json=body, headers={"Retry-After": "1"})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def server(server_for: Callable[[str], LiveServer]) -> LiveServer:
    return server_for("sqlite")


@pytest.mark.parametrize("drop", [False, True])
def test_idempotent_calls_retry_on_503_and_connection_errors(
    server: LiveServer, agent: str, drop: bool
) -> None:
    with sessionbox.Client(server.url, backoff=0.001) as client:
        record = client.create_session(agent)
    flaky = Flaky(2, drop=drop)
    with sessionbox.Client(server.url, transport=flaky, retries=3, backoff=0.001) as client:
        assert client.get_session(agent, record.id) == record
    assert flaky.seen == ["GET", "GET", "GET"]


def test_retries_give_up_with_the_server_error(server: LiveServer, agent: str) -> None:
    flaky = Flaky(10)
    client = sessionbox.Client(server.url, transport=flaky, retries=2, backoff=0.001)
    with client, pytest.raises(sessionbox.Unavailable, match="busy"):
        client.list_sessions(agent)
    assert len(flaky.seen) == 3


def test_non_idempotent_calls_are_never_retried(server: LiveServer, agent: str) -> None:
    flaky = Flaky(1)
    with sessionbox.Client(server.url, transport=flaky, retries=3, backoff=0.001) as client:
        with pytest.raises(sessionbox.Unavailable):
            client.create_session(agent, "safe_named_once")
        record = client.create_session(agent, "safe_named_once")
        files = client.session(agent, record.id).files
        flaky.failures = 1
        files.write("/a", "x")  # a PUT with a bytes body: retried
        flaky.failures = 1
        with pytest.raises(sessionbox.Unavailable):
            files.rename("/a", "/b")  # a move: not retried
        assert files.exists("/a")  # stat: a POST, but a read, so retriable
    assert flaky.seen == ["POST", "POST", "PUT", "PUT", "POST", "POST"]


def test_unreachable_server_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = sessionbox.Client(f"http://127.0.0.1:{port}", retries=2, backoff=0.001)
    with client, pytest.raises(sessionbox.Unavailable, match="cannot reach") as caught:
        client.list_sessions("a")
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_token_is_sent(tmp_path: Path, agent: str) -> None:
    server = LiveServer(small_limits(tmp_path, admin_token="s3cret")).start()
    try:
        anonymous = sessionbox.Client(server.url)
        with anonymous, pytest.raises(sessionbox.Unauthorized):
            anonymous.list_sessions(agent)
        wrong = sessionbox.Client(server.url, token="wrong")
        with wrong, pytest.raises(sessionbox.Unauthorized):
            wrong.create_session(agent)
        with sessionbox.Client(server.url, token="s3cret") as client:
            assert client.create_session(agent).mode == "safe"
    finally:
        server.stop()


def test_async_client_over_asgi_transport(tmp_path: Path, agent: str) -> None:
    app = create_app(small_limits(tmp_path))

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with sessionbox.AsyncClient("http://sessionbox", transport=transport) as client:
            record = await client.create_session(agent)
            files = client.session(agent, record.id).files
            await files.write("/a.txt", "hello")

            async def upload() -> Any:
                for piece in (b"ab", b"cd"):
                    yield piece

            await files.write_stream("/b.txt", upload())
            assert await files.read_text("/b.txt") == "abcd"
            chunks = [c async for c in await files.read_stream("/a.txt", 1, 3)]
            assert b"".join(chunks) == b"el"
            with pytest.raises(sessionbox.NotFound):
                await files.read("/missing")

    asyncio.run(scenario())


def test_async_parity_with_open_async(server: LiveServer, tmp_path: Path, agent: str) -> None:
    """The async library and the async client answer the same scenario the same way."""

    async def scenario(sdk: Any) -> list[object]:
        record = await sdk.create_session(agent, "safe_named_parity")
        files = sdk.session(agent, record.id).files
        entry = await files.write("/x/y.txt", "1")
        await files.write("/x/y.txt", "2", etag=entry.etag)
        try:
            await files.write("/x/y.txt", "3", etag=entry.etag)
        except sessionbox.PreconditionFailed as exc:
            failure = type(exc).__name__
        listing = [e.name for e in await files.list("/x")]
        await sdk.delete_session(agent, record.id)
        try:
            await files.read("/x/y.txt")
        except sessionbox.SessionNotFound as exc:
            gone = type(exc).__name__
        return [failure, listing, gone]

    async def remote() -> list[object]:
        async with sessionbox.AsyncClient(server.url) as client:
            return await scenario(client)

    local = sessionbox.open_async(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        expected = asyncio.run(scenario(local))
    finally:
        asyncio.run(local.close())
    assert expected == ["PreconditionFailed", ["y.txt"], "SessionNotFound"]
    assert asyncio.run(remote()) == expected


def test_both_async_facades_stream_watch_and_close_alike(
    server: LiveServer, tmp_path: Path, agent: str
) -> None:
    """``open_async`` and ``AsyncClient`` (one Protocol): the verbs, ranges as async
    iterators, an async watch, a sync ``format_marker``, ``async with``."""

    async def scenario(sdk: AsyncSessionboxApi) -> list[object]:
        record = await sdk.create_session(agent)
        session = sdk.session(agent, record.id)
        files = session.files
        await files.mkdir("/d")
        await files.write("/d/a.txt", "0123456789")
        async with await files.watch("/d", timeout=30) as changes:
            await files.move("/d/a.txt", "/d/b.txt")
            change = await changes.__anext__()
        chunks = [c async for c in await files.read_stream("/d/b.txt", 2, 5)]
        try:
            await files.read_stream("/d/b.txt", 0, 0)
        except sessionbox.RangeNotSatisfiable as exc:
            empty = type(exc).__name__
        info = await files.stat("/d/b.txt")
        old_name = await files.get_info("/d/b.txt")
        deleted = await files.delete("/d", recursive=True)
        marker = session.outputs.format_marker("out_1")
        return [change.op, b"".join(chunks), empty, info.etag == old_name.etag, deleted, marker]

    async def remote() -> list[object]:
        async with sessionbox.AsyncClient(server.url) as client:
            return await scenario(client)

    async def local() -> list[object]:
        async with sessionbox.open_async(f"sqlite:///{tmp_path / 'a.db'}") as box:
            return await scenario(box)

    expected = ["move", b"234", "RangeNotSatisfiable", True, 2, "[output:out_1]"]
    assert asyncio.run(local()) == expected
    assert asyncio.run(remote()) == expected


def test_problem_without_known_code_falls_back_by_status() -> None:
    request = httpx.Request("GET", "http://x/y")
    odd = httpx.Response(409, json={"code": "brand_new", "detail": "d"}, request=request)
    error = _wire.error_from(odd)
    assert isinstance(error, sessionbox.Conflict) and error.detail == "d"
    html = httpx.Response(502, text="<html>bad gateway</html>", request=request)
    assert type(_wire.error_from(html)) is sessionbox.SessionboxError
    extra = httpx.Response(
        416, json={"code": "range_not_satisfiable", "content_range": "bytes */3"}, request=request
    )
    assert _wire.error_from(extra).extra == {"content_range": "bytes */3"}

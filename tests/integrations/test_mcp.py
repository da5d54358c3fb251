"""The MCP server, driven by the official ``mcp`` client over stdio and streamable HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import sessionbox
from tests.conftest import STORES, LiveServer, small_limits


def text(result: Any) -> str:
    assert not result.is_error, result
    return str(result.content[0].text)


async def scenario(client: Client) -> None:
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools >= {"ls", "read_file", "write_file", "edit_file", "glob", "grep"}
    assert tools >= {"move", "copy", "delete"}
    call = client.call_tool
    assert "wrote 12 bytes" in text(
        await call("write_file", {"path": "/src/a.py", "content": "x = 1\ny = 1\n"})
    )
    assert text(await call("read_file", {"path": "/src/a.py"})) == "     1\tx = 1\n     2\ty = 1"
    assert text(await call("read_file", {"path": "/src/a.py", "offset": 1, "limit": 1})) == (
        "     2\ty = 1"
    )
    ambiguous = await call(
        "edit_file", {"path": "/src/a.py", "old_string": "= 1", "new_string": "= 2"}
    )
    assert ambiguous.is_error and "occurs 2 times" in ambiguous.content[0].text
    missing = await call("edit_file", {"path": "/src/a.py", "old_string": "zzz", "new_string": "q"})
    assert missing.is_error and "not found" in missing.content[0].text
    text(
        await call("edit_file", {"path": "/src/a.py", "old_string": "y = 1", "new_string": "y = 2"})
    )
    assert text(await call("read_file", {"path": "/src/a.py"})).endswith("y = 2")
    text(await call("copy", {"src": "/src/a.py", "dst": "/src/deep/b.py"}))
    text(await call("move", {"src": "/src/deep/b.py", "dst": "/src/c.txt"}))
    listing = (await call("ls", {"path": "/src"})).structured_content["result"]
    assert [e["path"] for e in listing] == ["/src/a.py", "/src/c.txt", "/src/deep"]
    found = (await call("glob", {"pattern": "**/*.py"})).structured_content["result"]
    assert found == ["/src/a.py"]
    assert (await call("glob", {"pattern": "*.txt"})).structured_content["result"] == ["/src/c.txt"]
    assert text(await call("grep", {"pattern": r"y = \d", "glob": "*.py"})) == "/src/a.py:2:y = 2"
    not_found = await call("read_file", {"path": "/nope"})
    assert not_found.is_error and "not_found" in not_found.content[0].text
    bad = await call("write_file", {"path": "../etc/passwd", "content": "x"})
    assert bad.is_error and "path_invalid" in bad.content[0].text
    resources = (await client.list_resources()).resources
    assert [r.uri for r in resources] == ["sessionbox:///src/a.py", "sessionbox:///src/c.txt"]
    read = await client.read_resource("sessionbox:///src/c.txt")
    assert read.contents[0].text == "x = 1\ny = 2\n"
    assert "deleted 4" in text(await call("delete", {"path": "/src", "recursive": True}))
    assert (await call("ls", {})).structured_content["result"] == []


async def caco_scenario(client: Client) -> None:
    """Caco's tools: outputs and applets."""
    call = client.call_tool
    tools = {t.name for t in (await client.list_tools()).tools}
    assert tools >= {"store_output", "save_applet", "load_applet", "list_applets"}
    first = (
        await call("store_output", {"data": "total 0\n", "metadata": {"type": "terminal"}})
    ).structured_content
    assert first == {"id": "out_1", "marker": "[output:out_1]"}
    blob = await call("store_output", {"data": "AP8=", "encoding": "base64"})
    assert blob.structured_content == {"id": "out_2", "marker": "[output:out_2]"}
    for bad in (
        {"data": "x", "metadata": {"type": "nonsense"}},
        {"data": "%%%", "encoding": "base64"},
        {"data": "x", "encoding": "rot13"},
    ):
        refused = await call("store_output", bad)
        assert refused.is_error, bad
    assert (await call("list_applets", {})).structured_content["result"] == []
    saved = await call("save_applet", {"slug": "chart", "name": "Chart", "html": "<p>hi</p>"})
    assert saved.structured_content["slug"] == "chart"
    assert saved.structured_content["version"] == 1
    loaded = (await call("load_applet", {"slug": "chart"})).structured_content
    assert loaded["html"] == "<p>hi</p>" and loaded["state"] == {} and loaded["name"] == "Chart"
    listed = (await call("list_applets", {})).structured_content["result"]
    assert [(a["slug"], a["version"]) for a in listed] == [("chart", 1)]
    missing = await call("load_applet", {"slug": "nope"})
    assert missing.is_error and "applet_not_found" in missing.content[0].text
    bad_slug = await call("save_applet", {"slug": "../x", "name": "X", "html": ""})
    assert bad_slug.is_error and "slug_invalid" in bad_slug.content[0].text


def check_caco_stored(sdk: Any, agent: str, session: str) -> None:
    """What the tools stored is there for the library to read."""
    outputs = sdk.session(agent, session).outputs
    assert [o.id for o in outputs.list_outputs()] == ["out_1", "out_2"]
    assert outputs.get_output("out_1").data == "total 0\n"
    assert outputs.get_output("out_2").raw == b"\x00\xff"
    assert sdk.applets(agent).load("chart").html == "<p>hi</p>"


@pytest.mark.parametrize("kind", STORES)
def test_over_streamable_http(
    server_for: Callable[[str], LiveServer], agent: str, kind: str
) -> None:
    server = server_for(kind)
    with sessionbox.Client(server.url) as sdk:
        session = sdk.create_session(agent).id

    async def run() -> None:
        async with Client(f"{server.url}/mcp?agent={agent}&session={session}") as client:
            await scenario(client)
            await caco_scenario(client)

    asyncio.run(run())
    with sessionbox.Client(server.url) as sdk:
        check_caco_stored(sdk, agent, session)


def test_over_stdio(tmp_path: Path, agent: str) -> None:
    store = f"sqlite:///{tmp_path / 'mcp.db'}"
    with sessionbox.open(store) as box:
        session = box.create_session(agent).id
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sessionbox.cli", "mcp", "-a", agent, "-s", session, "--store", store],
        env=env,
    )

    async def run() -> None:
        async with Client(params) as client:
            await scenario(client)
            await caco_scenario(client)

    asyncio.run(run())
    with sessionbox.open(store) as box:
        check_caco_stored(box, agent, session)


def test_http_endpoint_refuses_what_it_should(tmp_path: Path, agent: str) -> None:
    server = LiveServer(small_limits(tmp_path, admin_token="s3cret")).start()
    try:
        with sessionbox.Client(server.url, token="s3cret") as sdk:
            session = sdk.create_session(agent).id
        init = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"accept": "application/json, text/event-stream"}
        url = f"{server.url}/mcp?agent={agent}&session={session}"
        anonymous = httpx.post(url, json=init, headers=headers)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
        auth = {**headers, "authorization": "Bearer s3cret"}
        no_session = httpx.post(f"{server.url}/mcp", json=init, headers=auth)
        assert no_session.status_code == 400 and no_session.json()["code"] == "invalid_input"
        other = httpx.post(
            f"{server.url}/mcp?agent={agent}&session=safe_named_nope", json=init, headers=auth
        )
        assert other.status_code == 404 and other.json()["code"] == "session_not_found"
        assert json.loads(other.text)["status"] == 404
    finally:
        server.stop()

"""The OpenAPI document's additions: links that resolve, id grammars, documented statuses."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from sessionbox.api.app import create_app
from sessionbox.api.openapi import LINKS, add_links
from sessionbox.errors import AgentIdInvalid, SessionIdInvalid
from sessionbox.ids import (
    AGENT_ID_PATTERN,
    SESSION_ID_PATTERN,
    parse_session_id,
    validate_agent_id,
)
from tests.conftest import small_limits


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_app(small_limits(tmp_path_factory.mktemp("openapi")))


def _matches(pattern: str, text: str) -> bool:
    """ECMA semantics: ``$`` is the very end (Python's also matches before a final newline)."""
    assert pattern.endswith("$")
    return re.search(pattern[:-1] + r"\Z", text) is not None


def _operations(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        op["operationId"]: op for methods in schema["paths"].values() for op in methods.values()
    }


def test_every_link_names_an_operation_and_its_parameters(app: FastAPI) -> None:
    schema = app.openapi()
    operations = _operations(schema)
    found = 0
    for methods in schema["paths"].values():
        for operation in methods.values():
            for response in operation["responses"].values():
                for name, link in response.get("links", {}).items():
                    target = operations[link["operationId"]]
                    names = {p["name"] for p in target.get("parameters", [])}
                    assert set(link["parameters"]) <= names, (name, link["parameters"], names)
                    found += 1
    assert found == sum(len(links) for links in LINKS.values())
    assert app.openapi() is schema, "the schema is built once"


def test_a_link_to_a_route_that_is_gone_fails_loudly(app: FastAPI) -> None:
    schema = app.openapi()
    pruned = {**schema, "paths": {k: v for k, v in schema["paths"].items() if "outputs" not in k}}
    with pytest.raises(LookupError, match="outputs"):
        add_links(pruned)


@pytest.mark.parametrize(
    "text",
    ["a", "agent-1.x_y", "0" * 128, "0" * 129, "-a", ".a", "", "a/b", "é", "a\n",
     "0190a8a0-0000-7000-8000-000000000000", "0190A8A0-0000-7000-8000-00000000000"],
)  # fmt: skip
def test_the_agent_id_pattern_is_the_grammar(text: str) -> None:
    try:
        valid = validate_agent_id(text) == text
    except AgentIdInvalid:
        valid = False
    assert _matches(AGENT_ID_PATTERN, text) == valid


@pytest.mark.parametrize(
    "text",
    ["safe_auto_x", "unsafe_named_a.b~c", "safe_uuid_x", "safe_auto_", "safe_auto_a/b",
     "0190a8a0-0000-7000-8000-000000000000", "0190a8a0-0000-7000-8000-00000000000", "x",
     "safe_auto_x\n"],
)  # fmt: skip
def test_the_session_id_pattern_is_the_grammar(text: str) -> None:
    try:
        parse_session_id(text)
        valid = True
    except SessionIdInvalid:
        valid = False
    assert _matches(SESSION_ID_PATTERN, text) == valid


def test_path_ids_carry_their_pattern(app: FastAPI) -> None:
    for operation in _operations(app.openapi()).values():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"] == "agent_id":
                assert parameter["schema"]["pattern"] == AGENT_ID_PATTERN
            if parameter["in"] == "path" and parameter["name"] == "session_id":
                assert parameter["schema"]["pattern"] == SESSION_ID_PATTERN


def test_a_put_that_creates_answers_a_documented_201(http: httpx.Client, session_url: str) -> None:
    """Regression: PUT answered 201 on create while the OpenAPI documented only 200."""
    created = http.put(f"{session_url}/new.txt", content=b"x")
    replaced = http.put(f"{session_url}/new.txt", content=b"y")
    assert (created.status_code, replaced.status_code) == (201, 200)
    schema = http.get("/openapi.json").json()
    put = schema["paths"]["/v1/agents/{agent_id}/sessions/{session_id}/fs/{path}"]["put"]
    assert {"200", "201"} <= set(put["responses"])


def test_an_applet_put_that_creates_and_a_copy_answer_documented_201s(
    http: httpx.Client, session_url: str, agent: str
) -> None:
    """Regression (found by the stateful schemathesis run): both answered an undocumented 201."""
    applet = f"/v1/agents/{agent}/applets/app"
    created = http.put(applet, json={"name": "A", "html": "<p>"})
    replaced = http.put(applet, json={"name": "A", "html": "<p>"})
    assert (created.status_code, replaced.status_code) == (201, 200), created.text
    http.put(f"{session_url}/a.txt", content=b"x")
    copied = http.post(f"{session_url}/_/copy", json={"from": "/a.txt", "to": "/b.txt"})
    assert copied.status_code == 201, copied.text
    paths = http.get("/openapi.json").json()["paths"]
    assert {"200", "201"} <= set(paths["/v1/agents/{agent_id}/applets/{slug}"]["put"]["responses"])
    copy = paths["/v1/agents/{agent_id}/sessions/{session_id}/fs/_/copy"]["post"]
    assert "201" in copy["responses"]


def test_raw_reads_are_documented(http: httpx.Client, session_url: str) -> None:
    """Regression (found by the stateful run): a raw read's text/plain 200 was undocumented."""
    http.put(f"{session_url}/r.txt", content=b"hello")
    whole = http.get(f"{session_url}/r.txt", params={"raw": "1"})
    part = http.get(f"{session_url}/r.txt", params={"raw": "1"}, headers={"Range": "bytes=1-2"})
    assert (whole.status_code, part.status_code) == (200, 206)
    assert whole.headers["content-type"].startswith("text/plain")
    paths = http.get("/openapi.json").json()["paths"]
    for path in ("/v1/agents/{agent_id}/sessions/{session_id}/fs/{path}",
                 "/v1/agents/{agent_id}/sessions/{session_id}/fs"):  # fmt: skip
        responses = paths[path]["get"]["responses"]
        assert "*/*" in responses["200"]["content"]
        assert "*/*" in responses["206"]["content"]
        assert "304" in responses

"""What the generated OpenAPI document says beyond the routes: links and id grammars.

Links tell which answer names the resource the next request may use. A client (or
a stateful fuzzer such as schemathesis) follows them from a created session to its
files, outputs and snapshots, from a written file to reading and deleting it, from
a stored output to fetching it by id. FastAPI cannot declare a link on a route, so
they are added to the generated schema here, in one table; ``add_links`` fails
loudly when a route it names is gone. The agent and session id path parameters get
their grammar (``ids``) as a ``pattern``, so generated ids reach the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from sessionbox.ids import AGENT_ID_PATTERN, SESSION_ID_PATTERN

_AGENT = "/v1/agents/{agent_id}"
_SESSION = f"{_AGENT}/sessions/{{session_id}}"
_FILE = f"{_SESSION}/fs/{{path}}"

_IN_REQUEST = {"agent_id": "$request.path.agent_id", "session_id": "$request.path.session_id"}
_CREATED = {"agent_id": "$request.path.agent_id", "session_id": "$response.body#/id"}
_SAME_FILE = {**_IN_REQUEST, "path": "$request.path.path"}
_OUTPUT = {**_IN_REQUEST, "output_id": "$response.body#/id"}
_TOKEN_AGENT = {"agent_id": "$response.body#/agent_id"}
_APPLET = {"agent_id": "$request.path.agent_id", "slug": "$request.path.slug"}


@dataclass(frozen=True)
class Link:
    """A link named ``name`` to the operation ``method path``, filling ``parameters``."""

    name: str
    method: str
    path: str
    parameters: dict[str, str]


def _session_links(parameters: dict[str, str]) -> list[Link]:
    """What can be done in a session the answer names."""
    return [
        Link("GetSession", "get", _SESSION, parameters),
        Link("DeleteSession", "delete", _SESSION, parameters),
        Link("ListRoot", "get", f"{_SESSION}/fs", parameters),
        Link("CreateFile", "post", _FILE, parameters),
        Link("WriteFile", "put", _FILE, parameters),
        Link("Stat", "post", f"{_SESSION}/fs/_/stat", parameters),
        Link("Move", "post", f"{_SESSION}/fs/_/move", parameters),
        Link("Copy", "post", f"{_SESSION}/fs/_/copy", parameters),
        Link("Grep", "post", f"{_SESSION}/fs/_/grep", parameters),
        Link("PutSnapshot", "put", f"{_SESSION}/snapshot", parameters),
        Link("StoreOutput", "post", f"{_SESSION}/outputs", parameters),
        Link("ListOutputs", "get", f"{_SESSION}/outputs", parameters),
        Link("Export", "get", f"{_SESSION}/export", parameters),
    ]


def _file_links() -> list[Link]:
    """What can be done with the file (or directory) the request just wrote."""
    return [
        Link("ReadFile", "get", _FILE, _SAME_FILE),
        Link("OverwriteFile", "put", _FILE, _SAME_FILE),
        Link("DeleteFile", "delete", _FILE, _SAME_FILE),
        Link("CreateAgain", "post", _FILE, _SAME_FILE),
    ]


def _applet_links() -> list[Link]:
    """What can be done with the applet the request just saved."""
    return [
        Link("LoadApplet", "get", f"{_AGENT}/applets/{{slug}}", _APPLET),
        Link("GetState", "get", f"{_AGENT}/applets/{{slug}}/state", _APPLET),
        Link("SetState", "put", f"{_AGENT}/applets/{{slug}}/state", _APPLET),
        Link("Versions", "get", f"{_AGENT}/applets/{{slug}}/versions", _APPLET),
        Link("DeleteApplet", "delete", f"{_AGENT}/applets/{{slug}}", _APPLET),
    ]


# (method, path, status) of an answer -> the links it offers.
LINKS: dict[tuple[str, str, str], list[Link]] = {
    ("post", f"{_AGENT}/sessions", "201"): _session_links(_CREATED),
    ("post", _FILE, "201"): _file_links(),
    ("put", _FILE, "200"): _file_links(),
    ("put", _FILE, "201"): _file_links(),
    ("post", f"{_SESSION}/outputs", "201"): [
        Link("GetOutput", "get", f"{_SESSION}/outputs/{{output_id}}", _OUTPUT),
        Link("DeleteOutput", "delete", f"{_SESSION}/outputs/{{output_id}}", _OUTPUT),
    ],
    ("put", f"{_SESSION}/snapshot", "200"): [
        Link("GetSnapshot", "get", f"{_SESSION}/snapshot", _IN_REQUEST),
        Link("ListSnapshots", "get", f"{_SESSION}/snapshots", _IN_REQUEST),
        Link("DeleteSnapshots", "delete", f"{_SESSION}/snapshot", _IN_REQUEST),
    ],
    ("put", f"{_AGENT}/applets/{{slug}}", "200"): _applet_links(),
    ("put", f"{_AGENT}/applets/{{slug}}", "201"): _applet_links(),
    # A token names its agent: the way into that agent's sessions and applets.
    ("post", "/v1/tokens", "201"): [
        Link("RevokeToken", "delete", "/v1/tokens/{token_id}", {"token_id": "$response.body#/id"}),
        Link("CreateSession", "post", f"{_AGENT}/sessions", _TOKEN_AGENT),
        Link("ListSessions", "get", f"{_AGENT}/sessions", _TOKEN_AGENT),
        Link("SaveApplet", "put", f"{_AGENT}/applets/{{slug}}", _TOKEN_AGENT),
    ],
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Put ``LINKS`` into the responses of ``schema`` (an OpenAPI 3 document), in place."""
    paths = schema["paths"]

    def operation_id(method: str, path: str) -> str:
        try:
            return str(paths[path][method]["operationId"])
        except KeyError:
            raise LookupError(f"a link names {method.upper()} {path}, not a route") from None

    for (method, path, status), links in LINKS.items():
        operation_id(method, path)
        responses = paths[path][method]["responses"]
        if status not in responses:
            raise LookupError(f"{method.upper()} {path} documents no {status} to link from")
        responses[status]["links"] = {
            link.name: {
                "operationId": operation_id(link.method, link.path),
                "parameters": link.parameters,
            }
            for link in links
        }
    return schema


_PATTERNS = {"agent_id": AGENT_ID_PATTERN, "session_id": SESSION_ID_PATTERN}


def add_id_patterns(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every ``agent_id``/``session_id`` path parameter its grammar, in place."""
    for operations in schema["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                pattern = _PATTERNS.get(parameter["name"])
                if pattern and parameter["in"] == "path":
                    parameter["schema"]["pattern"] = pattern
    return schema


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` build its schema (once, as FastAPI does) with the additions."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_id_patterns(add_links(build()))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

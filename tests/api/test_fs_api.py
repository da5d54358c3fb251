"""The filesystem REST contract (DESIGN.md §4), on a real server, on every store."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api._raw import raw_request
from tests.conftest import LiveServer

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status
    assert {"type", "title", "detail"} <= body.keys() and body["detail"]
    return body


def test_create_read_list(http: httpx.Client, session_url: str) -> None:
    created = http.post(f"{session_url}/src/main.rs", json={"content": "fn main() {}"})
    assert created.status_code == 201
    body = created.json()
    assert body["path"] == "/src/main.rs" and body["name"] == "main.rs"
    assert body["content"] == "fn main() {}" and body["encoding"] == "text"
    assert body["size_bytes"] == 12 and created.headers["etag"] == body["etag"]
    assert http.get(f"{session_url}/src/main.rs").json()["content"] == "fn main() {}"
    listing = http.get(f"{session_url}/src").json()
    assert [e["path"] for e in listing["data"]] == ["/src/main.rs"]
    assert listing["next_cursor"] is None
    root = http.get(session_url).json()
    assert [(e["name"], e["is_directory"]) for e in root["data"]] == [("src", True)]


def test_create_directory_and_conflicts(http: httpx.Client, session_url: str) -> None:
    made = http.post(f"{session_url}/docs", json={"is_directory": True})
    assert made.status_code == 201 and made.json()["is_directory"]
    problem(http.post(f"{session_url}/docs", json={"is_directory": True}), 409, "exists")
    http.post(f"{session_url}/f", json={"content": "x"})
    problem(http.post(f"{session_url}/f", json={"content": "y"}), 409, "exists")
    problem(http.post(f"{session_url}/f/child", json={"content": "y"}), 409, "not_a_directory")


def test_binary_detection_and_base64(http: httpx.Client, session_url: str) -> None:
    data = b"\x00\x01\x02binary"
    encoded = base64.b64encode(data).decode()
    http.post(f"{session_url}/bin", json={"content": encoded, "encoding": "base64"})
    got = http.get(f"{session_url}/bin").json()
    assert got["encoding"] == "base64" and base64.b64decode(got["content"]) == data
    http.put(f"{session_url}/latin", content=b"caf\xe9", headers={"content-type": "text/plain"})
    assert http.get(f"{session_url}/latin").json()["encoding"] == "base64"
    problem(
        http.post(f"{session_url}/bad", json={"content": "!!!", "encoding": "base64"}),
        400,
        "encoding_invalid",
    )


def test_update_with_if_match(http: httpx.Client, session_url: str) -> None:
    first = http.put(f"{session_url}/f.txt", json={"content": "1"})
    assert first.status_code == 201
    etag = first.headers["etag"]
    second = http.put(f"{session_url}/f.txt", json={"content": "2"}, headers={"If-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag
    problem(
        http.put(f"{session_url}/f.txt", json={"content": "3"}, headers={"If-Match": etag}),
        412,
        "precondition_failed",
    )
    problem(
        http.delete(f"{session_url}/f.txt", headers={"If-Match": etag}), 412, "precondition_failed"
    )
    assert http.get(f"{session_url}/f.txt").json()["content"] == "2"
    cached = http.get(f"{session_url}/f.txt", headers={"If-None-Match": second.headers["etag"]})
    assert cached.status_code == 304


def test_readonly(http: httpx.Client, session_url: str) -> None:
    http.put(f"{session_url}/ro", json={"content": "keep", "is_readonly": True})
    problem(http.put(f"{session_url}/ro", json={"content": "no"}), 409, "readonly")
    flags = http.put(f"{session_url}/ro", json={"is_readonly": False})
    assert flags.status_code == 200 and not flags.json()["is_readonly"]
    http.put(f"{session_url}/ro", json={"is_readonly": True})
    assert http.delete(f"{session_url}/ro").json() == {"deleted": 1}


def test_raw_body_and_ranges(http: httpx.Client, session_url: str) -> None:
    data = bytes(range(256)) * 40
    put = http.put(
        f"{session_url}/blob.bin",
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert put.status_code == 201 and put.json()["size_bytes"] == len(data)
    whole = http.get(f"{session_url}/blob.bin", params={"raw": 1})
    assert whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["x-content-type-options"] == "nosniff"
    part = http.get(f"{session_url}/blob.bin?raw=1", headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    tail = http.get(f"{session_url}/blob.bin?raw=1", headers={"Range": "bytes=-5"})
    assert tail.content == data[-5:]
    problem(
        http.get(f"{session_url}/blob.bin?raw=1", headers={"Range": f"bytes={len(data)}-"}),
        416,
        "range_not_satisfiable",
    )
    assert (
        http.get(
            f"{session_url}/blob.bin?raw=1", headers={"If-None-Match": put.headers["etag"]}
        ).status_code
        == 304
    )


def test_raw_body_keeps_its_content_type(http: httpx.Client, session_url: str) -> None:
    http.put(f"{session_url}/page", content=b"<b>x</b>", headers={"content-type": "text/html"})
    got = http.get(f"{session_url}/page?raw=1")
    assert got.headers["content-type"].startswith("text/html")
    assert got.headers["content-security-policy"] == "sandbox"


def test_delete(http: httpx.Client, session_url: str) -> None:
    http.put(f"{session_url}/d/a", json={"content": "1"})
    http.put(f"{session_url}/d/e/b", json={"content": "2"})
    problem(http.delete(f"{session_url}/d"), 409, "directory_not_empty")
    assert http.delete(f"{session_url}/d", params={"recursive": "true"}).json() == {"deleted": 4}
    problem(http.get(f"{session_url}/d"), 404, "not_found")


@pytest.mark.parametrize("prefix", ["_", "_actions"])
def test_actions(http: httpx.Client, session_url: str, prefix: str) -> None:
    http.put(f"{session_url}/src/a.py", json={"content": "def f():\n    return 1\n"})
    stat = http.post(f"{session_url}/{prefix}/stat", json={"path": "/src/a.py"})
    assert stat.status_code == 200 and stat.json()["size_bytes"] == 22
    copy = http.post(f"{session_url}/{prefix}/copy", json={"from": "/src", "to": "/backup"})
    assert copy.status_code == 201 and copy.json()["path"] == "/backup"
    problem(
        http.post(f"{session_url}/{prefix}/move", json={"from": "/src", "to": "/backup"}),
        409,
        "exists",
    )
    moved = http.post(
        f"{session_url}/{prefix}/move", json={"from": "/src", "to": "/backup", "overwrite": True}
    )
    assert moved.status_code == 200 and moved.json()["path"] == "/backup"
    grep = http.post(
        f"{session_url}/{prefix}/grep", json={"pattern": r"def\s+\w+", "path_pattern": "*.py"}
    ).json()
    assert grep == {
        "data": [
            {
                "path": "/backup/a.py",
                "matches": [{"path": "/backup/a.py", "line_number": 1, "line": "def f():"}],
            }
        ]
    }
    problem(
        http.post(f"{session_url}/{prefix}/grep", json={"pattern": "("}), 400, "pattern_invalid"
    )
    problem(http.post(f"{session_url}/{prefix}/nope", json={}), 404, "not_found")
    problem(http.post(f"{session_url}/{prefix}/stat", json={"path": "/nope"}), 404, "not_found")
    problem(http.post(f"{session_url}/{prefix}/stat", json={}), 400, "invalid_input")


def test_reserved_paths(http: httpx.Client, session_url: str) -> None:
    problem(http.put(f"{session_url}/_private", json={"content": "x"}), 400, "path_reserved")
    problem(http.post(f"{session_url}/_x/y", json={"content": "x"}), 400, "path_reserved")
    problem(http.get(f"{session_url}/_missing"), 404, "not_found")


def test_malformed_bodies(http: httpx.Client, session_url: str) -> None:
    headers = {"content-type": "application/json"}
    problem(http.post(f"{session_url}/a", content=b"{bad", headers=headers), 400, "body_invalid")
    problem(http.put(f"{session_url}/a", content=b"{bad", headers=headers), 400, "invalid_input")
    problem(http.post(f"{session_url}/a", json={"content": 5}), 422, "validation_failed")
    problem(
        http.post(f"{session_url}/a", json={"content": "x", "extra": 1}), 422, "validation_failed"
    )
    problem(http.put(f"{session_url}/a", json={"content": ["x"]}), 400, "invalid_input")
    problem(http.put(f"{session_url}/a", json={}), 400, "invalid_input")
    problem(
        http.post(f"{session_url}/_/move", content=b"[1,2]", headers=headers), 400, "invalid_input"
    )
    assert http.get(session_url).json()["data"] == []


def test_limits(http: httpx.Client, session_url: str, live_server: LiveServer) -> None:
    limit = live_server.settings.max_file_bytes
    problem(
        http.put(
            f"{session_url}/big",
            content=b"x" * (limit + 1),
            headers={"content-type": "application/octet-stream"},
        ),
        413,
        "too_large",
    )
    chunk = b"y" * limit
    for name in ("a", "b"):
        ok = http.put(
            f"{session_url}/{name}",
            content=chunk,
            headers={"content-type": "application/octet-stream"},
        )
        assert ok.status_code == 201
    problem(
        http.put(
            f"{session_url}/c", content=chunk, headers={"content-type": "application/octet-stream"}
        ),
        507,
        "quota_exceeded",
    )
    problem(http.get(f"{session_url}/a"), 413, "too_large")  # JSON read limit; raw works
    assert len(http.get(f"{session_url}/a?raw=1").content) == limit
    assert sorted(e["name"] for e in http.get(session_url).json()["data"]) == ["a", "b"]


def test_sessions_must_exist(http: httpx.Client, agent: str) -> None:
    problem(http.get(f"/v1/agents/{agent}/sessions/safe_named_nope/fs"), 404, "session_not_found")
    problem(
        http.put(f"/v1/agents/{agent}/sessions/safe_named_nope/fs/a", json={"content": "x"}),
        404,
        "session_not_found",
    )
    problem(http.get(f"/v1/agents/{agent}/sessions/not-an-id/fs"), 400, "session_id_invalid")
    problem(http.get("/v1/agents/-bad/sessions/safe_named_x/fs"), 400, "agent_id_invalid")
    assert http.get(f"/v1/agents/{agent}/sessions").json()["data"] == []


HOSTILE = [
    "/..",
    "/../etc/passwd",
    "/a/../../b",
    "/./a",
    "/%2e%2e/x",
    "/%2E%2E%2Fetc",
    "/%252e%252e/x",
    "/a%00b",
    "/a%5c..%5cb",
    "/%ff%fe",
    "/a//b",
    "/a/",
    "/%e2%80%ae",
    "/" + "a" * 300,
    "/a%0ab",
    "/a%e2%80%a8b",  # U+2028 LINE SEPARATOR
    "/%c0%ae%c0%ae/x",  # overlong UTF-8 '..'
    "/%e0%80%ae",
    "/.%2e",
    "/%25%32%65%25%32%65/x",
    "/e%cc%81",  # NFD
    "/a%e2%80%8bb",  # zero-width space
]


@pytest.mark.parametrize("suffix", HOSTILE)
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
def test_hostile_paths_are_400_and_write_nothing(
    live_server: LiveServer, http: httpx.Client, session_url: str, suffix: str, method: str
) -> None:
    body = json.dumps({"content": "pwned"}).encode()
    response = raw_request(
        live_server.url,
        method,
        session_url + suffix,
        body if method in ("PUT", "POST") else None,
        {"content-type": "application/json"},
    )
    assert response.status == 400, (suffix, response.status, response.body)
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "path_invalid"
    assert http.get(session_url).json()["data"] == []


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(path=st.text(min_size=1, max_size=40), method=st.sampled_from(["GET", "PUT", "DELETE"]))
def test_no_path_ever_gives_a_server_error(
    live_server: LiveServer, session_url: str, path: str, method: str
) -> None:
    from urllib.parse import quote

    response = raw_request(
        live_server.url,
        method,
        session_url + "/" + quote(path, safe="/%"),
        b'{"content": "x"}' if method == "PUT" else None,
        {"content-type": "application/json"},
    )
    assert response.status < 500, (path, response.body)
    if response.status >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)


def test_deleting_the_root_honours_if_match(http: httpx.Client, session_url: str) -> None:
    """Regression: ``DELETE /fs?recursive=true`` ignored If-Match and emptied the session."""
    http.put(f"{session_url}/keep", json={"content": "x"})
    for garbage in ("garbage", '"nope"'):
        problem(
            http.delete(session_url, params={"recursive": "true"}, headers={"If-Match": garbage}),
            412,
            "precondition_failed",
        )
    assert [e["name"] for e in http.get(session_url).json()["data"]] == ["keep"]
    root = http.post(f"{session_url}/_/stat", json={"path": "/"})
    assert root.status_code == 200
    emptied = http.delete(
        session_url, params={"recursive": "true"}, headers={"If-Match": root.headers["etag"]}
    )
    assert emptied.json() == {"deleted": 1}
    http.put(f"{session_url}/again", json={"content": "x"})
    starred = http.delete(session_url, params={"recursive": "true"}, headers={"If-Match": "*"})
    assert starred.json() == {"deleted": 1}

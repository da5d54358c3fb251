"""Issue 3 audit: the §4 rules the first API suite left to the store tests, over HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from tests.api.test_fs_api import problem

RAW = {"content-type": "application/octet-stream"}


def names(http: httpx.Client, url: str) -> list[str]:
    response = http.get(url)
    assert response.status_code == 200, response.text
    return [e["name"] for e in response.json()["data"]]


def test_create_makes_parents_and_a_file_in_the_way_is_409(
    http: httpx.Client, session_url: str
) -> None:
    assert http.post(f"{session_url}/a/b/c.txt", json={"content": "x"}).status_code == 201
    assert names(http, session_url) == ["a"] and names(http, f"{session_url}/a") == ["b"]
    stat = http.post(f"{session_url}/_/stat", json={"path": "/a/b"}).json()
    assert stat["is_directory"] and stat["size_bytes"] == 0
    problem(http.put(f"{session_url}/a/b/c.txt/d", json={"content": "y"}), 409, "not_a_directory")
    problem(http.post(f"{session_url}/a/b", json={"is_directory": True}), 409, "exists")
    problem(http.post(f"{session_url}/a/b", json={"content": "y"}), 409, "is_a_directory")
    problem(http.put(f"{session_url}/a/b", json={"content": "y"}), 409, "is_a_directory")


def test_etag_is_strong_quoted_and_changes_on_every_write(
    http: httpx.Client, session_url: str
) -> None:
    tags = set()
    for _ in range(5):
        etag = http.put(f"{session_url}/f", json={"content": "same"}).headers["etag"]
        assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
        tags.add(etag)
    assert len(tags) == 5
    read = http.get(f"{session_url}/f")
    assert read.headers["etag"] in tags and read.json()["etag"] == read.headers["etag"]
    assert http.get(f"{session_url}/f?raw=1").headers["etag"] == read.headers["etag"]


def test_if_match_on_a_missing_path_and_on_flags_and_move(
    http: httpx.Client, session_url: str
) -> None:
    problem(
        http.put(f"{session_url}/new", json={"content": "x"}, headers={"If-Match": '"a.1"'}),
        412,
        "precondition_failed",
    )
    etag = http.put(f"{session_url}/f", json={"content": "1"}).headers["etag"]
    stale = {"If-Match": '"stale.9"'}
    problem(
        http.put(f"{session_url}/f", json={"is_readonly": True}, headers=stale),
        412,
        "precondition_failed",
    )
    problem(
        http.post(f"{session_url}/_/move", json={"from": "/f", "to": "/g"}, headers=stale),
        412,
        "precondition_failed",
    )
    moved = http.post(
        f"{session_url}/_actions/move", json={"from": "/f", "to": "/g"}, headers={"If-Match": etag}
    )
    assert moved.status_code == 200 and moved.headers["etag"] == etag  # a move keeps the entry
    assert names(http, session_url) == ["g"]
    assert (
        http.put(f"{session_url}/h", json={"content": "x"}, headers={"If-Match": "*"}).status_code
        == 412
    )


def test_readonly_blocks_move_over_and_copy_over_but_not_delete(
    http: httpx.Client, session_url: str
) -> None:
    http.put(f"{session_url}/ro", json={"content": "keep", "is_readonly": True})
    http.put(f"{session_url}/other", json={"content": "new"})
    for action in ("move", "copy"):
        problem(
            http.post(
                f"{session_url}/_/{action}",
                json={"from": "/other", "to": "/ro", "overwrite": True},
            ),
            409,
            "readonly",
        )
    problem(
        http.put(f"{session_url}/ro", content=b"raw", headers=RAW),
        409,
        "readonly",
    )
    assert http.get(f"{session_url}/ro").json()["content"] == "keep"
    moved = http.post(f"{session_url}/_/move", json={"from": "/ro", "to": "/ro2"})
    assert moved.status_code == 200 and moved.json()["is_readonly"]  # moving it is allowed
    assert http.delete(f"{session_url}/ro2").json() == {"deleted": 1}


def test_move_and_copy_trees_with_overwrite(http: httpx.Client, session_url: str) -> None:
    for path in ("/src/a.py", "/src/pkg/b.py", "/dst/old.txt"):
        http.put(f"{session_url}{path}", json={"content": path})
    copied = http.post(f"{session_url}/_/copy", json={"from": "/src", "to": "/copy"})
    assert copied.status_code == 201
    assert names(http, f"{session_url}/copy") == ["a.py", "pkg"]
    assert http.get(f"{session_url}/copy/pkg/b.py").json()["content"] == "/src/pkg/b.py"
    assert names(http, f"{session_url}/src") == ["a.py", "pkg"]  # copy keeps the source
    problem(http.post(f"{session_url}/_/move", json={"from": "/src", "to": "/dst"}), 409, "exists")
    moved = http.post(
        f"{session_url}/_/move", json={"from": "/src", "to": "/dst", "overwrite": True}
    )
    assert moved.status_code == 200
    assert names(http, f"{session_url}/dst") == ["a.py", "pkg"]  # old.txt went with the old tree
    assert names(http, session_url) == ["copy", "dst"]
    problem(
        http.post(f"{session_url}/_/move", json={"from": "/dst", "to": "/dst/pkg/in"}),
        409,
        "move_into_self",
    )
    problem(
        http.post(f"{session_url}/_/copy", json={"from": "/dst", "to": "/dst/pkg/in"}),
        409,
        "move_into_self",
    )
    problem(
        http.post(f"{session_url}/_/move", json={"from": "/nope", "to": "/x"}), 404, "not_found"
    )
    problem(
        http.post(f"{session_url}/_/copy", json={"from": "/copy", "to": "/_hidden"}),
        400,
        "path_reserved",
    )


def test_text_or_base64_by_the_first_8_kib(http: httpx.Client, session_url: str) -> None:
    late_nul = b"a" * 9000 + b"\x00tail"  # valid UTF-8; the NUL is past 8 KiB
    early_nul = b"a" * 8000 + b"\x00tail"
    late_latin1 = b"a" * 9000 + b"\xe9"
    for name, data, encoding in [
        ("late_nul", late_nul, "text"),
        ("early_nul", early_nul, "base64"),
        ("late_latin1", late_latin1, "base64"),
        ("empty", b"", "text"),
        ("emoji", "héllo 🌍".encode(), "text"),
    ]:
        http.put(f"{session_url}/{name}", content=data, headers=RAW)
        got = http.get(f"{session_url}/{name}").json()
        assert got["encoding"] == encoding, name
        decoded = (
            got["content"].encode() if encoding == "text" else base64.b64decode(got["content"])
        )
        assert decoded == data, name


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=10-", 206, slice(10, None)),
        ("bytes=0-", 206, slice(0, None)),
        ("bytes=95-1000", 206, slice(95, None)),
        ("bytes=-1000", 206, slice(0, None)),
        ("bytes=99-99", 206, slice(99, 100)),
        ("bytes=1-2", 206, slice(1, 3)),
    ],
)
def test_ranges_open_suffix_and_clamped(
    http: httpx.Client, session_url: str, header: str, status: int, part: slice
) -> None:
    data = bytes(range(100))
    http.put(f"{session_url}/r", content=data, headers=RAW)
    got = http.get(f"{session_url}/r?raw=1", headers={"Range": header})
    assert got.status_code == status and got.content == data[part]
    first = part.start or 0
    last = (part.stop or 100) - 1
    assert got.headers["content-range"] == f"bytes {first}-{last}/100"
    assert got.headers["content-length"] == str(last - first + 1)


def test_range_errors(http: httpx.Client, session_url: str) -> None:
    http.put(f"{session_url}/empty", content=b"", headers=RAW)
    body = problem(
        http.get(f"{session_url}/empty?raw=1", headers={"Range": "bytes=0-"}),
        416,
        "range_not_satisfiable",
    )
    assert body["content_range"] == "bytes */0"
    whole = http.get(f"{session_url}/empty?raw=1")
    assert whole.status_code == 200 and whole.content == b""
    http.put(f"{session_url}/d/f", json={"content": "x"})
    problem(http.get(f"{session_url}/d?raw=1"), 409, "is_a_directory")
    problem(http.get(f"{session_url}/missing?raw=1"), 404, "not_found")


def test_path_length_limits(http: httpx.Client, session_url: str) -> None:
    segment = "s" * 255
    longest = "/".join([segment] * 16)  # 16 * 256 = 4096 bytes with the leading slashes
    assert len("/" + longest) == 4096
    assert http.put(f"{session_url}/{longest}", json={"content": "x"}).status_code == 201
    problem(http.put(f"{session_url}/{longest}x", json={"content": "x"}), 400, "path_invalid")
    problem(http.put(f"{session_url}/{'s' * 256}", json={"content": "x"}), 400, "path_invalid")


def test_list_pages_with_cursor(http: httpx.Client, session_url: str) -> None:
    for name in ("e", "a", "d", "c", "b"):
        http.put(f"{session_url}/dir/{name}", json={"content": name})
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(5):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = http.get(f"{session_url}/dir", params=params).json()
        seen += [e["name"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["a", "b", "c", "d", "e"]
    problem(http.get(f"{session_url}/dir", params={"limit": 0}), 422, "validation_failed")
    problem(http.get(f"{session_url}/dir", params={"cursor": "%%"}), 400, "cursor_invalid")


def test_grep_over_http(http: httpx.Client, session_url: str) -> None:
    http.put(f"{session_url}/src/pkg/a.py", json={"content": "import os\nx = 1\n"})
    http.put(f"{session_url}/src/b.py", json={"content": "import re\n"})
    http.put(f"{session_url}/bin.py", content=b"\x00import", headers=RAW)
    found = http.post(
        f"{session_url}/_/grep", json={"pattern": "^import", "path_pattern": "src/**/*.py"}
    ).json()["data"]
    assert [f["path"] for f in found] == ["/src/b.py", "/src/pkg/a.py"]
    limited = http.post(f"{session_url}/_/grep", json={"pattern": "import", "max_matches": 1})
    assert sum(len(f["matches"]) for f in limited.json()["data"]) == 1
    problem(
        http.post(f"{session_url}/_/grep", json={"pattern": "x", "max_matches": 0}),
        400,
        "invalid_input",
    )
    problem(http.post(f"{session_url}/_/grep", json={"pattern": "[a-"}), 400, "pattern_invalid")


def test_deleting_a_session_deletes_its_files(http: httpx.Client, agent: str) -> None:
    sid = http.post(f"/v1/agents/{agent}/sessions", json={"id": "safe_named_gone"}).json()["id"]
    base = f"/v1/agents/{agent}/sessions/{sid}"
    http.put(f"{base}/fs/a/b", json={"content": "x"})
    assert http.delete(base).status_code == 204
    problem(http.get(f"{base}/fs"), 404, "session_not_found")
    again = http.post(f"/v1/agents/{agent}/sessions", json={"id": "safe_named_gone"})
    assert again.status_code == 201
    assert names(http, f"{base}/fs") == []  # a new session with the same id starts empty


@pytest.mark.parametrize("bad", ["/../x", "x", "/a//b", "/a/", "/%2e%2e", "/a\u2028b", "", "/_r"])
@pytest.mark.parametrize("action", ["stat", "move", "copy", "grep"])
def test_hostile_paths_in_action_bodies(
    http: httpx.Client, session_url: str, action: str, bad: str
) -> None:
    http.put(f"{session_url}/ok", json={"content": "x"})
    body: dict[str, str] = {
        "stat": {"path": bad},
        "move": {"from": "/ok", "to": bad},
        "copy": {"from": bad, "to": "/dst"},
        "grep": {"pattern": "x", "path": bad},
    }[action]
    response = http.post(f"{session_url}/_/{action}", json=body)
    if bad == "/_r" and action in ("stat", "copy", "grep"):
        problem(response, 404, "not_found")  # reading a reserved name is an ordinary miss
    else:
        body_out = problem(response, 400, "path_reserved" if bad == "/_r" else "path_invalid")
        assert body_out["detail"]
    assert names(http, session_url) == ["ok"]


def test_chunked_raw_upload_over_the_limits_writes_nothing(
    http: httpx.Client, session_url: str
) -> None:
    limit = 3 * 1024 * 1024  # tests.conftest.small_limits

    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536):
            yield b"z" * 65536

    problem(
        http.put(f"{session_url}/big", content=chunks(limit + 65536), headers=RAW),
        413,
        "too_large",
    )
    for name in ("a", "b"):
        assert http.put(f"{session_url}/{name}", content=chunks(limit), headers=RAW).is_success
    problem(http.put(f"{session_url}/c", content=chunks(limit), headers=RAW), 507, "quota_exceeded")
    assert names(http, session_url) == ["a", "b"]

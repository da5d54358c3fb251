"""Export/import (issue 6 item 5) over real HTTP, on every store, with hostile archives."""

from __future__ import annotations

import base64
import gzip
import io
import os
import random
import tarfile

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_fs_api import problem

MiB = 1024 * 1024
SID = "safe_named_src"


def fill(http: httpx.Client, agent: str, sid: str = SID) -> None:
    base = f"/v1/agents/{agent}/sessions"
    assert http.post(base, json={"id": sid}).status_code == 201
    fs = f"{base}/{sid}/fs"
    http.post(f"{fs}/src/main.py", json={"content": "print('hi')\n"})
    http.post(
        f"{fs}/data/blob.bin",
        json={"content": base64.b64encode(bytes(range(256))).decode(), "encoding": "base64"},
    )
    http.post(f"{fs}/docs/ré sumé.md", json={"content": "# ü", "is_readonly": True})
    http.post(f"{fs}/empty", json={"is_directory": True})
    out = f"{base}/{sid}/outputs"
    http.post(
        out, json={"data": "$ ls", "metadata": {"type": "terminal", "command": "ls", "x": [1, 2]}}
    )
    http.post(
        out,
        json={
            "data": base64.b64encode(b"\x89PNG").decode(),
            "encoding": "base64",
            "metadata": {"type": "image", "mimeType": "image/png"},
        },
    )
    http.post(
        out, json={"data": '{"k": 1}', "metadata": {"type": "raw", "mimeType": "application/json"}}
    )
    http.delete(f"{out}/out_2")
    http.put(f"/v1/agents/{agent}/applets/todo", json={"name": "Todo", "html": "<ul>", "js": "1"})
    http.put(f"/v1/agents/{agent}/applets/todo/state", json={"items": ["a"]})


def export(http: httpx.Client, agent: str, sid: str = SID) -> bytes:
    response = http.get(f"/v1/agents/{agent}/sessions/{sid}/export")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/gzip"
    return response.content


def test_export_layout_and_identical_round_trip(http: httpx.Client, agent: str) -> None:
    fill(http, agent)
    first = export(http, agent)
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        names = list(members)
        assert names == sorted(names)
        assert f"sessions/{SID}/files/src/main.py" in names
        assert (
            f"sessions/{SID}/files/empty" in names
            and members[f"sessions/{SID}/files/empty"].isdir()
        )
        assert members[f"sessions/{SID}/files/docs/ré sumé.md"].mode == 0o444
        assert f"sessions/{SID}/outputs/out_1.txt" in names
        assert f"sessions/{SID}/outputs/out_3.json" in names
        assert f"sessions/{SID}/outputs/out_2.b64" not in names
        assert "applets/_index.json" in names and "applets/todo/state.json" in names
        assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members.values())
        manifest = tar.extractfile(f"sessions/{SID}/outputs.json").read()  # type: ignore[union-attr]
        assert b'"command": "ls"' in manifest and b"out_3" in manifest
    assert export(http, agent) == first  # deterministic
    other = agent + "-copy"
    imported = http.post(f"/v1/agents/{other}/import", content=first)
    assert imported.status_code == 201, imported.text
    assert imported.json() == {"sessions": [SID], "applets": ["todo"], "applets_skipped": []}
    assert export(http, other) == first  # export -> import -> export: the same bytes
    assert http.get(f"/v1/agents/{other}/applets/todo/state").json() == {"items": ["a"]}
    fs = f"/v1/agents/{other}/sessions/{SID}/fs"
    assert http.get(f"{fs}/docs/ré sumé.md").json()["is_readonly"] is True
    out = f"/v1/agents/{other}/sessions/{SID}/outputs"
    assert http.get(f"{out}/out_1").json()["metadata"]["x"] == [1, 2]
    next_id = http.post(out, json={"data": "n", "metadata": {"type": "raw"}}).json()["id"]
    assert next_id == "out_4"


def test_import_renames_and_refuses_existing(http: httpx.Client, agent: str) -> None:
    fill(http, agent)
    archive = export(http, agent)
    problem(http.post(f"/v1/agents/{agent}/import", content=archive), 409, "exists")
    renamed = http.post(
        f"/v1/agents/{agent}/import", params={"session_id": "safe_named_copy"}, content=archive
    )
    assert renamed.status_code == 201, renamed.text
    assert renamed.json()["sessions"] == ["safe_named_copy"]
    assert renamed.json()["applets_skipped"] == ["todo"]
    read = http.get(f"/v1/agents/{agent}/sessions/safe_named_copy/fs/src/main.py")
    assert read.json()["content"] == "print('hi')\n"
    problem(
        http.post(f"/v1/agents/{agent}/import", params={"session_id": "bad id"}, content=archive),
        400,
        "session_id_invalid",
    )
    problem(
        http.get(f"/v1/agents/{agent}/sessions/safe_named_nope/export"), 404, "session_not_found"
    )


def build(members: list[tuple[str, bytes | None, bytes]]) -> bytes:
    """A .tar.gz from (name, content or None for a special member, tar type)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = "../../../etc/passwd"
            if data is not None and kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return gzip.compress(raw.getvalue())


GOOD = [
    (f"sessions/{SID}/outputs.json", b"{}", tarfile.REGTYPE),
    (f"sessions/{SID}/files/ok.txt", b"fine", tarfile.REGTYPE),
]
F = f"sessions/{SID}/files"
HOSTILE: list[list[tuple[str, bytes | None, bytes]]] = [
    [("../evil", b"x", tarfile.REGTYPE)],
    [("/etc/evil", b"x", tarfile.REGTYPE)],
    [(f"{F}/../../../evil", b"x", tarfile.REGTYPE)],
    [(f"{F}/a/../b", b"x", tarfile.REGTYPE)],
    [(f"./{F}/x", b"x", tarfile.REGTYPE)],
    [(f"{F}//x", b"x", tarfile.REGTYPE)],
    [(f"{F}/a\\..\\b", b"x", tarfile.REGTYPE)],
    [(f"{F}/_reserved", b"x", tarfile.REGTYPE)],
    [(f"{F}/" + "a" * 300, b"x", tarfile.REGTYPE)],
    [(f"{F}/bidi\u202etxt", b"x", tarfile.REGTYPE)],
    [("sessions/not an id/files/x", b"x", tarfile.REGTYPE)],
    [(f"sessions/{SID}/elsewhere/x", b"x", tarfile.REGTYPE)],
    [("etc/passwd", b"x", tarfile.REGTYPE)],
    [(f"sessions/{SID}/outputs/evil.sh", b"x", tarfile.REGTYPE)],
    [(f"sessions/{SID}/outputs/out_1.txt", b"x", tarfile.REGTYPE)],  # not in outputs.json
    [("applets/Bad/meta.json", b"{}", tarfile.REGTYPE)],
    [("applets/ok/content.html", b"x", tarfile.REGTYPE)],  # no meta.json
    [("applets/ok/meta.json", b"[1]", tarfile.REGTYPE)],
    [(f"{F}/link", None, tarfile.SYMTYPE)],
    [(f"{F}/hard", None, tarfile.LNKTYPE)],
    [(f"{F}/dev", None, tarfile.CHRTYPE)],
    [(f"{F}/blk", None, tarfile.BLKTYPE)],
    [(f"{F}/fifo", None, tarfile.FIFOTYPE)],
    [(f"{F}/ok.txt", b"again", tarfile.REGTYPE)],  # duplicate
    [(f"{F}/ok.txt", None, tarfile.DIRTYPE)],  # duplicate as a directory
    [(f"{F}/ok.txt/below", b"x", tarfile.REGTYPE)],  # a file in the way
    [(f"sessions/{SID}/outputs.json", b"[]", tarfile.REGTYPE)],
]


def assert_nothing_written(http: httpx.Client, agent: str) -> None:
    assert http.get(f"/v1/agents/{agent}/sessions").json()["data"] == []
    assert http.get(f"/v1/agents/{agent}/applets").json() == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(hostile=st.sampled_from(HOSTILE), position=st.integers(0, 2))
def test_hostile_archives_are_refused_whole(
    http: httpx.Client, agent: str, hostile: list[tuple[str, bytes | None, bytes]], position: int
) -> None:
    members = list(GOOD)
    members[position:position] = hostile
    response = http.post(f"/v1/agents/{agent}/import", content=build(members))
    problem(response, 422, "archive_invalid")
    assert_nothing_written(http, agent)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not gzip at all",
        gzip.compress(b"not a tar" * 100),
        build(GOOD)[:-20],
        random.Random(6).randbytes(4000),
    ],
    ids=["empty", "text", "gzip-not-tar", "truncated", "random"],
)
def test_unreadable_archives(http: httpx.Client, agent: str, body: bytes) -> None:
    problem(http.post(f"/v1/agents/{agent}/import", content=body), 422, "archive_invalid")
    assert_nothing_written(http, agent)


def test_bombs_and_quota(http: httpx.Client, agent: str) -> None:
    # Inflates ~1000x: refused by ratio although under every size limit.
    zeros = build([*GOOD, (f"{F}/zeros", bytes(int(2.5 * MiB)), tarfile.REGTYPE)])
    assert len(zeros) < 20_000
    problem(http.post(f"/v1/agents/{agent}/import", content=zeros), 422, "archive_invalid")
    # A header claiming more than the file size limit is refused before it is read.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo(f"{F}/huge")
        info.size = 50 * MiB
        tar.addfile(info)
    problem(
        http.post(f"/v1/agents/{agent}/import", content=gzip.compress(raw.getvalue())),
        422,
        "archive_invalid",
    )
    # Incompressible files that together exceed the session quota (8 MiB in tests).
    over = build(
        [*GOOD, *[(f"{F}/r{i}", os.urandom(int(2.9 * MiB)), tarfile.REGTYPE) for i in range(3)]]
    )
    problem(http.post(f"/v1/agents/{agent}/import", content=over), 422, "archive_invalid")
    assert_nothing_written(http, agent)

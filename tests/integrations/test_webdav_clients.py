"""WebDAV checked by clients nobody here wrote (issue 21): Debian's litmus compliance suite
and rclone, against the bridge in-process and as ``sessionbox webdav`` over a running
server. Both programs are installed with apt-get when missing (tests/_apt.py)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import sessionbox
from tests import _apt
from tests.conftest import LiveServer
from tests.integrations.test_webdav import DavServer

SUITES = "basic copymove props locks http"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["in-process", "sessionbox-webdav-over-http"])
def mount(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    agent: str,
    server_for: Any,
) -> Iterator[str]:
    """The URL of a WebDAV mount of a fresh session."""
    if request.param == "in-process":
        with sessionbox.open(f"sqlite:///{tmp_path / 'dav.db'}") as box:
            sid = box.create_session(agent).id
            dav = DavServer(box.session(agent, sid).files)
            try:
                yield dav.url
            finally:
                dav.stop()
        return
    server: LiveServer = server_for("postgres")
    with sessionbox.Client(server.url) as client:
        sid = client.create_session(agent).id
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SESSIONBOX_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionbox.cli", "webdav", "-a", agent, "-s", sid,
         "--url", server.url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.request("OPTIONS", url + "/", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, "sessionbox webdav exited"
                assert time.monotonic() < deadline, "sessionbox webdav did not start"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(20)


def test_litmus_passes_every_test_without_a_warning(mount: str, tmp_path: Path) -> None:
    litmus = _apt.ensure("litmus")
    done = subprocess.run(
        [str(litmus), "-k", mount + "/"],
        env={**os.environ, "TESTS": SUITES},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout.replace("\r", "\n")
    summaries = re.findall(
        r"summary for `(\w+)': of (\d+) tests run: (\d+) passed, (\d+) failed", out
    )
    assert [s[0] for s in summaries] == SUITES.split(), out
    failing = re.findall(r"^\s*\d+\. (\w+)\.* FAIL.*$", out, re.M)
    assert failing == [] and all(s[3] == "0" for s in summaries), out
    assert "WARNING" not in out and "warnings were issued" not in out, out
    assert done.returncode == 0, out


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_rclone_syncs_a_directory_in_and_out_byte_exact(mount: str, tmp_path: Path) -> None:
    rclone = _apt.ensure("rclone")
    source = tmp_path / "source"
    files = {
        "README.md": b"# notes\n",
        "empty.txt": b"",
        "data/blob.bin": os.urandom(1_500_000),  # more than one 1 MiB chunk
        "data/deep/er/x.json": b'{"a": [1, 2]}',
        "unicod\u00e9 [1] & co/caf\u00e9.txt": "d\u00e9j\u00e0 vu\n".encode(),
    }
    for name, data in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    env = {
        **os.environ,
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_SB_TYPE": "webdav",
        "RCLONE_CONFIG_SB_URL": mount + "/",
        "RCLONE_CONFIG_SB_VENDOR": "other",
    }

    def rclone_run(*args: str) -> None:
        done = subprocess.run(
            [str(rclone), *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stdout + done.stderr

    rclone_run("sync", str(source), "sb:project")
    rclone_run("check", str(source), "sb:project")  # sizes, and hashes where it can
    (source / "README.md").write_bytes(b"# notes, changed\n")
    (source / "empty.txt").unlink()
    rclone_run("sync", str(source), "sb:project")  # an update and a delete go over too
    back = tmp_path / "back"
    rclone_run("sync", "sb:project", str(back))
    assert _tree(back) == _tree(source)


def test_range_reads(mount: str) -> None:
    data = os.urandom(300_000)
    with httpx.Client(base_url=mount, timeout=30) as client:
        assert client.put("/r.bin", content=data).status_code == 201
        part = client.get("/r.bin", headers={"Range": "bytes=1000-1999"})
        assert part.status_code == 206 and part.content == data[1000:2000]
        assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
        tail = client.get("/r.bin", headers={"Range": "bytes=-10"})
        assert tail.status_code == 206 and tail.content == data[-10:]
        assert client.get("/r.bin").content == data
        assert client.get("/r.bin", headers={"Range": "bytes=999999-"}).status_code == 416

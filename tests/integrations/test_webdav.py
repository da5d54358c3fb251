"""WebDAV: a real WebDAV client (webdav4) on a real cheroot server over loopback."""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cheroot import wsgi
from webdav4.client import Client as DavClient
from webdav4.client import HTTPError

from sessionbox.integrations.webdav import make_app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DavServer:
    def __init__(self, files: Any, read_only: bool = False) -> None:
        self.port = _free_port()
        self.server = wsgi.Server(("127.0.0.1", self.port), make_app(files, read_only=read_only))
        self.server.prepare()
        self.thread = threading.Thread(target=self.server.serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()
        self.thread.join(10)


@pytest.fixture
def dav(fs: Any) -> Iterator[tuple[DavClient, Any, DavServer]]:
    server = DavServer(fs)
    client = DavClient(server.url, timeout=30)
    yield client, fs, server
    client.http.close()
    server.stop()


def test_propfind_get_put_move_copy_delete(dav: tuple[DavClient, Any, DavServer]) -> None:
    client, fs, _ = dav
    fs.write("/docs/readme.md", "# hello\n")
    client.upload_fileobj(io.BytesIO(b"a,b\n1,2\n"), "docs/data.csv")
    assert fs.read_text("/docs/data.csv") == "a,b\n1,2\n"
    names = sorted(item["name"] for item in client.ls("docs", detail=True))
    assert names == ["docs/data.csv", "docs/readme.md"]
    info = client.info("docs/readme.md")
    assert info["content_length"] == 8 and info["type"] == "file"
    assert info["etag"].strip('"') == fs.get_info("/docs/readme.md").etag.strip('"')
    out = io.BytesIO()
    client.download_fileobj("docs/readme.md", out)
    assert out.getvalue() == b"# hello\n"
    client.upload_fileobj(io.BytesIO(b"# changed\n"), "docs/readme.md", overwrite=True)
    assert fs.read_text("/docs/readme.md") == "# changed\n"
    client.mkdir("archive")
    client.move("docs", "archive/docs")
    assert fs.exists("/archive/docs/data.csv") and not fs.exists("/docs")
    client.copy("archive/docs/data.csv", "copy.csv")
    assert fs.read_text("/copy.csv") == "a,b\n1,2\n"
    client.remove("archive")
    assert [e.path for e in fs.list("/")] == ["/copy.csv"]


def test_readonly_file_refuses_put(dav: tuple[DavClient, Any, DavServer]) -> None:
    client, fs, server = dav
    fs.write("/locked.txt", "keep", readonly=True)
    with pytest.raises(HTTPError) as caught:
        client.upload_fileobj(io.BytesIO(b"overwrite"), "locked.txt", overwrite=True)
    assert caught.value.response.status_code == 403
    assert fs.read_text("/locked.txt") == "keep"
    assert httpx.get(f"{server.url}/missing.txt").status_code == 404


def test_read_only_mount_refuses_every_change_with_403(fs: Any) -> None:
    """RFC 4918: a refused change is 403 (WsgiDAV alone answers 405 for a read-only mount)."""
    fs.write("/a.txt", "x")
    fs.make_dir("/d")
    server = DavServer(fs, read_only=True)
    lock = (
        '<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        "</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>"
    )
    proppatch = (
        '<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:x"><D:set>'
        "<D:prop><Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>"
    )
    try:
        client = DavClient(server.url, timeout=30)
        assert [i["name"] for i in client.ls("/", detail=True)] == ["a.txt", "d"]
        client.http.close()
        dest = {"Destination": f"{server.url}/b.txt"}
        with httpx.Client(base_url=server.url, timeout=30) as http:
            refused = {
                "PUT new": http.put("/b.txt", content=b"y"),
                "PUT existing": http.put("/a.txt", content=b"y"),
                "DELETE": http.delete("/a.txt"),
                "DELETE dir": http.delete("/d"),
                "MKCOL": http.request("MKCOL", "/e"),
                "MOVE": http.request("MOVE", "/a.txt", headers=dest),
                "COPY": http.request("COPY", "/a.txt", headers=dest),
                "LOCK": http.request("LOCK", "/a.txt", content=lock),
                "LOCK new": http.request("LOCK", "/c.txt", content=lock),
            }
            assert {k: r.status_code for k, r in refused.items()} == dict.fromkeys(refused, 403)
            patched = http.request("PROPPATCH", "/a.txt", content=proppatch)
            assert patched.status_code == 403 or (
                patched.status_code == 207 and "403" in patched.text
            ), patched.text
            assert http.get("/a.txt").content == b"x"
        assert [e.path for e in fs.list("/")] == ["/a.txt", "/d"]
        assert fs.read_text("/a.txt") == "x"
    finally:
        server.stop()


def test_cli_refuses_a_public_bind() -> None:
    from typer.testing import CliRunner

    from sessionbox.cli import app

    result = CliRunner().invoke(
        app, ["webdav", "-a", "a", "-s", "safe_named_x", "--host", "0.0.0.0", "--store", "x"]
    )
    assert result.exit_code == 2 and "refusing" in result.output

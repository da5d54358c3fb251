"""Every Python example in the README runs, against a real store or server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import sessionbox
from tests.conftest import LiveServer

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(
    code: str, live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code = code.replace("http://127.0.0.1:8787", live_server.url)
    if "127.0.0.1:8788" not in code:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})
        return
    from tests.integrations.test_webdav import DavServer

    with sessionbox.Client(live_server.url) as client:
        record = client.create_session("readme-agent")
        dav = DavServer(client.session("readme-agent", record.id).files)
        try:
            code = code.replace("http://127.0.0.1:8788", dav.url)
            names: dict[str, object] = {"__name__": "readme"}
            exec(compile(code, str(README), "exec"), names)
            names["dav"].http.close()  # type: ignore[attr-defined]
            assert client.session("readme-agent", record.id).files.read_text("/notes.md") == "# hi"
        finally:
            dav.stop()

"""fsspec: the protocol is registered, fsspec's own abstract suite passes, pandas reads it."""

from __future__ import annotations

from typing import Any

import fsspec
import pandas as pd
import pytest
from fsspec.tests.abstract import (
    AbstractCopyTests,
    AbstractFixtures,
    AbstractGetTests,
    AbstractOpenTests,
    AbstractPipeTests,
    AbstractPutTests,
)

import sessionbox
from sessionbox.integrations.fsspec import SessionboxFileSystem
from tests.conftest import LiveServer

# The abstract suite is ~140 tests: it runs on both transports and both stores, paired
# (HTTP on PostgreSQL, in-process on SQLite) rather than crossed, to keep the suite quick.
TWO_WAYS = pytest.mark.parametrize(
    "sdk", [("http", "postgres"), ("local", "sqlite")], indirect=True, ids=["http-pg", "local-sq"]
)


class SessionboxFixtures(AbstractFixtures):  # type: ignore[misc]
    @pytest.fixture
    def fs(self, sdk: Any) -> SessionboxFileSystem:
        return SessionboxFileSystem(client=sdk, skip_instance_cache=True)

    @pytest.fixture
    def fs_path(self, sdk: Any, agent: str) -> str:
        return f"{agent}/{sdk.create_session(agent).id}"


@TWO_WAYS
class TestCopy(AbstractCopyTests, SessionboxFixtures):  # type: ignore[misc]
    pass


@TWO_WAYS
class TestGet(AbstractGetTests, SessionboxFixtures):  # type: ignore[misc]
    pass


@TWO_WAYS
class TestPut(AbstractPutTests, SessionboxFixtures):  # type: ignore[misc]
    pass


@TWO_WAYS
class TestOpen(AbstractOpenTests, SessionboxFixtures):  # type: ignore[misc]
    pass


@TWO_WAYS
class TestPipe(AbstractPipeTests, SessionboxFixtures):  # type: ignore[misc]
    pass


def test_entry_point_registers_the_protocol() -> None:
    assert fsspec.get_filesystem_class("sessionbox") is SessionboxFileSystem


def test_pandas_round_trip_over_http(server_for: Any, agent: str) -> None:
    server: LiveServer = server_for("postgres")
    with sessionbox.Client(server.url) as client:
        session = client.create_session(agent).id
        client.session(agent, session).files.write("/data.csv", "a,b\n1,2\n3,4\n")
    options = {"url": server.url}
    frame = pd.read_csv(f"sessionbox://{agent}/{session}/data.csv", storage_options=options)
    assert frame.to_dict("list") == {"a": [1, 3], "b": [2, 4]}
    frame.assign(c=frame.a + frame.b).to_csv(
        f"sessionbox://{agent}/{session}/out/sum.csv", index=False, storage_options=options
    )
    with sessionbox.Client(server.url) as client:
        assert client.session(agent, session).files.read_text("/out/sum.csv") == (
            "a,b,c\n1,2,3\n3,4,7\n"
        )


@TWO_WAYS
def test_listing_ranges_and_errors(sdk: Any, agent: str) -> None:
    fs = SessionboxFileSystem(client=sdk, skip_instance_cache=True)
    fs.mkdir(f"{agent}/safe_named_fs")
    root = f"sessionbox://{agent}/safe_named_fs"
    fs.pipe(f"{root}/d/x.bin", bytes(range(100)))
    assert fs.cat_file(f"{root}/d/x.bin", start=10, end=20) == bytes(range(10, 20))
    assert fs.cat_file(f"{root}/d/x.bin", start=-5) == bytes(range(95, 100))
    with fs.open(f"{root}/d/x.bin", "rb") as handle:
        handle.seek(50)
        assert handle.read(3) == bytes([50, 51, 52])
    assert fs.ls(f"{agent}", detail=False) == [f"{agent}/safe_named_fs"]
    assert fs.ls(root, detail=False) == [f"{agent}/safe_named_fs/d"]
    assert fs.info(f"{root}/d")["type"] == "directory"
    assert fs.find(root) == [f"{agent}/safe_named_fs/d/x.bin"]
    assert fs.glob(f"{root}/**/*.bin") == [f"{agent}/safe_named_fs/d/x.bin"]
    with pytest.raises(FileNotFoundError):
        fs.cat_file(f"{root}/missing")
    with pytest.raises(FileNotFoundError):
        fs.ls(f"{agent}/safe_named_nope")
    with pytest.raises(FileExistsError):
        fs.open(f"{root}/d/x.bin", "xb").close()
    fs.mv(f"{root}/d", f"{root}/e", recursive=True)
    assert fs.exists(f"{root}/e/x.bin") and not fs.exists(f"{root}/d")
    fs.rm(root, recursive=True)
    with pytest.raises(sessionbox.SessionNotFound):
        sdk.get_session(agent, "safe_named_fs")

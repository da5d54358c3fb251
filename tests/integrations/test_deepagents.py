"""The deepagents backend, against the real deepagents package, in-process and over HTTP.

``fs`` is one session's files on (local, http) x (sqlite, postgres). The last tests run a
real ``create_deep_agent`` graph whose model is a scripted fake (no LLM, no network), so
deepagents' own filesystem tools drive the backend and the files stay in the session.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest
from deepagents import create_deep_agent
from deepagents.backends.protocol import BackendProtocol, FileUploadResponse
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from sessionbox.integrations.deepagents import SessionboxBackend


@pytest.fixture
def backend(fs: Any) -> SessionboxBackend:
    return SessionboxBackend(fs)


def test_it_is_a_deepagents_backend(backend: SessionboxBackend) -> None:
    assert isinstance(backend, BackendProtocol)
    for name in ("ls", "read", "write", "edit", "delete", "glob", "grep"):
        assert getattr(type(backend), name) is not getattr(BackendProtocol, name), name
    for name in ("upload_files", "download_files"):
        assert getattr(type(backend), name) is not getattr(BackendProtocol, name), name


def test_write_then_read_windows(backend: SessionboxBackend, fs: Any) -> None:
    assert backend.write("/src/a.py", "one\ntwo\nthree\n").path == "/src/a.py"
    assert fs.read_text("/src/a.py") == "one\ntwo\nthree\n"
    whole = backend.read("/src/a.py")
    assert whole.error is None and whole.file_data is not None
    assert whole.file_data["content"] == "one\ntwo\nthree\n"
    assert (whole.start_line, whole.end_line, whole.total_lines) == (1, 3, 3)
    window = backend.read("/src/a.py", offset=1, limit=1)
    assert window.file_data is not None and window.file_data["content"] == "two\n"
    assert (window.start_line, window.end_line, window.next_offset) == (2, 2, 2)
    assert backend.write("/src/a.py", "replaced").error is None  # overwrite is allowed
    assert fs.read_text("/src/a.py") == "replaced"
    degenerate = backend.read("/src/a.py", offset=-3, limit=0)
    assert degenerate.error is None and degenerate.no_lines_requested


def test_read_errors_are_results(backend: SessionboxBackend, fs: Any) -> None:
    assert backend.read("/nope").error == "File '/nope' not found"
    fs.make_dir("/d")
    assert "is_a_directory" in (backend.read("/d").error or "")
    fs.write("/short.txt", "a\nb\n")
    assert "exceeds file length" in (backend.read("/short.txt", offset=5).error or "")
    assert "path_invalid" in (backend.read("../etc/passwd").error or "")


def test_binary_files_round_trip_as_base64(backend: SessionboxBackend, fs: Any) -> None:
    raw = bytes(range(256))
    assert backend.upload_files([("/bin/blob.dat", raw)]) == [
        FileUploadResponse(path="/bin/blob.dat", error=None)
    ]
    result = backend.read("/bin/blob.dat")
    assert result.file_data is not None and result.file_data["encoding"] == "base64"
    assert base64.standard_b64decode(result.file_data["content"]) == raw
    assert backend.download_files(["/bin/blob.dat"])[0].content == raw
    assert "binary" in (backend.edit("/bin/blob.dat", "a", "b").error or "")
    assert fs.read("/bin/blob.dat") == raw


def test_ls(backend: SessionboxBackend, fs: Any) -> None:
    fs.write("/b.txt", "bb")
    fs.write("/a/x.txt", "x")
    fs.make_dir("/empty")
    listing = backend.ls("/")
    assert listing.error is None and listing.entries is not None
    assert [(e["path"], e["is_dir"], e["size"]) for e in listing.entries] == [
        ("/a/", True, 0),
        ("/b.txt", False, 2),
        ("/empty/", True, 0),
    ]
    assert all(e["modified_at"] for e in listing.entries)
    assert backend.ls("/empty").entries == []
    assert backend.ls("/nope").error == "Path '/nope': path_not_found"
    assert backend.ls("/b.txt").error == "Path '/b.txt': not_a_directory"


def test_edit(backend: SessionboxBackend, fs: Any) -> None:
    fs.write("/f.txt", "x = 1\ny = 1\n")
    ambiguous = backend.edit("/f.txt", "= 1", "= 2")
    assert ambiguous.error is not None and "appears 2 times" in ambiguous.error
    assert fs.read_text("/f.txt") == "x = 1\ny = 1\n"  # a refused edit writes nothing
    missing = backend.edit("/f.txt", "zzz", "q")
    assert missing.error is not None and "not found" in missing.error
    done = backend.edit("/f.txt", "y = 1", "y = 2")
    assert (done.error, done.path, done.occurrences) == (None, "/f.txt", 1)
    every = backend.edit("/f.txt", "=", "==", replace_all=True)
    assert every.occurrences == 2
    assert fs.read_text("/f.txt") == "x == 1\ny == 2\n"
    assert backend.edit("/none.txt", "a", "b").error == "Error: File '/none.txt' not found"


class _RacingFiles:
    """Files whose ``read`` lets another writer change the file first."""

    def __init__(self, files: Any) -> None:
        self._files = files

    def __getattr__(self, name: str) -> Any:
        return getattr(self._files, name)

    def read(self, path: str) -> bytes:
        data: bytes = self._files.read(path)
        self._files.write(path, "someone else's text\n")
        return data


def test_a_concurrent_change_makes_the_edit_fail_not_vanish(fs: Any) -> None:
    fs.write("/f.txt", "mine\n")
    result = SessionboxBackend(_RacingFiles(fs)).edit("/f.txt", "mine", "ours")
    assert result.error is not None and "precondition_failed" in result.error
    assert fs.read_text("/f.txt") == "someone else's text\n"


def test_readonly_files_refuse_changes(backend: SessionboxBackend, fs: Any) -> None:
    fs.write("/locked.txt", "keep")
    fs.set_readonly("/locked.txt")
    assert "readonly" in (backend.write("/locked.txt", "x").error or "")
    assert "readonly" in (backend.edit("/locked.txt", "keep", "x").error or "")
    assert backend.upload_files([("/locked.txt", b"x")])[0].error == "permission_denied"
    assert fs.read_text("/locked.txt") == "keep"


def test_delete_is_recursive(backend: SessionboxBackend, fs: Any) -> None:
    fs.write("/d/e/f.txt", "1")
    fs.write("/d/g.txt", "2")
    assert backend.delete("/d").path == "/d"
    assert not fs.exists("/d")
    assert backend.delete("/d").error == "Error: '/d' not found"
    assert "path_invalid" in (backend.delete("/../x").error or "")


def test_glob_follows_the_shared_contract(backend: SessionboxBackend, fs: Any) -> None:
    for path in ("/top.py", "/src/app/main.py", "/src/app/util.txt", "/.github/ci.yml"):
        fs.write(path, "x")

    def paths(pattern: str, path: str | None = None) -> list[str]:
        result = backend.glob(pattern, path)
        assert result.error is None and result.matches is not None, result
        return sorted(m["path"] for m in result.matches)

    assert paths("*.py") == ["/src/app/main.py", "/top.py"]  # bare: a name at any depth
    assert paths("/*.py") == ["/top.py"]  # a leading / anchors to the root
    assert paths("src/**/*.py") == ["/src/app/main.py"]
    assert paths("*.{py,txt}", "/src") == ["/src/app/main.py", "/src/app/util.txt"]
    assert paths("*.yml") == ["/.github/ci.yml"]
    assert paths("**/*.yml") == []  # ** does not enter dot-directories
    assert paths("*.py", "/nope") == []
    assert paths("main.py", "/src/app/main.py") == ["/src/app/main.py"]
    assert all(not m["is_dir"] for m in backend.glob("*").matches or [])
    refused = backend.glob("../*.py")
    assert refused.matches is None and "traversal" in (refused.error or "")


def test_grep_is_literal_and_filtered(backend: SessionboxBackend, fs: Any) -> None:
    fs.write("/a.py", "print(x)\nx = [1]\n")
    fs.write("/sub/b.py", "print(y)\n")
    fs.write("/sub/c.txt", "print(z)\n")
    fs.write("/bin.dat", b"print(\x00\xff")

    def found(pattern: str, **kw: Any) -> list[tuple[str, int, str]]:
        result = backend.grep(pattern, **kw)
        assert result.error is None and result.matches is not None, result
        return [(m["path"], m["line"], m["text"]) for m in result.matches]

    assert found("[1]") == [("/a.py", 2, "x = [1]")]  # not a regex character class
    assert sorted(found("print(")) == [
        ("/a.py", 1, "print(x)"),
        ("/sub/b.py", 1, "print(y)"),
        ("/sub/c.txt", 1, "print(z)"),
    ]
    assert found("print(", path="/sub", glob="*.py") == [("/sub/b.py", 1, "print(y)")]
    assert found("print(", path="/sub/c.txt") == [("/sub/c.txt", 1, "print(z)")]
    assert found("print(", path="/nope") == []
    capped = backend.grep("print(", max_count=2)
    assert capped.matches is not None and len(capped.matches) == 2 and capped.truncated
    exact = backend.grep("print(", max_count=3)
    assert exact.matches is not None and len(exact.matches) == 3 and not exact.truncated
    assert "traversal" in (backend.grep("x", glob="../*").error or "")


def test_upload_and_download_report_each_file(backend: SessionboxBackend, fs: Any) -> None:
    fs.make_dir("/dir")
    answers = backend.upload_files([("/ok.txt", b"fine"), ("../evil", b"x"), ("/dir", b"x")])
    assert [a.error for a in answers] == [None, "invalid_path", answers[2].error]
    assert answers[2].error is not None
    got = backend.download_files(["/ok.txt", "/missing", "/dir", "/../evil"])
    assert [(g.content, g.error) for g in got] == [
        (b"fine", None),
        (None, "file_not_found"),
        (None, "is_directory"),
        (None, "invalid_path"),
    ]


def test_async_methods(backend: SessionboxBackend, fs: Any) -> None:
    async def run() -> None:
        assert (await backend.awrite("/as.txt", "async TODO\n")).error is None
        read = await backend.aread("/as.txt")
        assert read.file_data is not None and read.file_data["content"] == "async TODO\n"
        assert (await backend.aedit("/as.txt", "TODO", "done")).occurrences == 1
        grep = await backend.agrep("done")
        assert grep.matches == [{"path": "/as.txt", "line": 1, "text": "async done"}]
        assert [m["path"] for m in (await backend.aglob("*.txt")).matches or []] == ["/as.txt"]

    asyncio.run(run())
    assert fs.read_text("/as.txt") == "async done\n"


class ScriptedModel(GenericFakeChatModel):
    """A chat model that answers from a script; tools are bound by doing nothing."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def _script() -> Iterator[AIMessage]:
    def call(name: str, call_id: str, **args: Any) -> AIMessage:
        return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])

    yield call("write_file", "1", file_path="/notes/plan.md", content="# plan\nstep one\n")
    yield call("edit_file", "2", file_path="/notes/plan.md", old_string="one", new_string="two")
    yield AIMessage(
        content="",
        tool_calls=[
            {"name": "read_file", "args": {"file_path": "/notes/plan.md"}, "id": "3"},
            {"name": "ls", "args": {"path": "/notes"}, "id": "4"},
            {"name": "glob", "args": {"pattern": "*.md"}, "id": "5"},
            {"name": "grep", "args": {"pattern": "step"}, "id": "6"},
            {"name": "read_file", "args": {"file_path": "/missing.md"}, "id": "7"},
        ],
    )
    yield AIMessage(content="done")


@pytest.mark.parametrize(
    "sdk", [("http", "postgres"), ("local", "sqlite")], indirect=True, ids=["http-pg", "local-sq"]
)
def test_a_deep_agent_keeps_its_files_in_the_session(sdk: Any, agent: str) -> None:
    session = sdk.create_session(agent).id
    files = sdk.session(agent, session).files
    deep = create_deep_agent(
        model=ScriptedModel(messages=_script()), backend=SessionboxBackend(files)
    )
    out = deep.invoke({"messages": [{"role": "user", "content": "plan it"}]})
    tools = {m.tool_call_id: m for m in out["messages"] if isinstance(m, ToolMessage)}
    assert tools["1"].status == "success" and tools["2"].status == "success"
    assert "step two" in str(tools["3"].content)
    assert "/notes/plan.md" in str(tools["4"].content)
    assert "/notes/plan.md" in str(tools["5"].content)
    assert "/notes/plan.md" in str(tools["6"].content)
    assert tools["7"].status == "error" and "not found" in str(tools["7"].content)
    last: BaseMessage = out["messages"][-1]
    assert last.content == "done"
    # The files are the session's: another backend (and the plain SDK) sees them.
    assert sdk.session(agent, session).files.read_text("/notes/plan.md") == "# plan\nstep two\n"
    again = SessionboxBackend(sdk.session(agent, session).files).read("/notes/plan.md")
    assert again.file_data is not None and again.file_data["content"] == "# plan\nstep two\n"

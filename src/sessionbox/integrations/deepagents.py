"""A LangChain deepagents filesystem backend whose files live in a sessionbox session.

    from deepagents import create_deep_agent
    files = sessionbox.open().session("my-agent", session_id).files
    agent = create_deep_agent(model=..., backend=SessionboxBackend(files))

``files`` is the SDK ``files`` object of one session, in-process
(``sessionbox.open()``) or over HTTP (``sessionbox.Client``); every call goes
through the SDK API, so the server's token rules apply. Install
``sessionbox[deepagents]``. deepagents' own helpers decide edit, read-window and
glob semantics, so this backend answers exactly as its built-in ones do; grep
runs on the server (a literal pattern as an escaped regex) and only the glob
filter is applied here.
"""

from __future__ import annotations

import base64
import re
from datetime import datetime
from typing import Any

from deepagents.backends.protocol import (
    BackendProtocol,
    DeleteResult,
    EditResult,
    FileDownloadResponse,
    FileInfo,
    FileUploadResponse,
    GlobResult,
    GrepMatch,
    GrepResult,
    LsResult,
    ReadResult,
    WriteResult,
)
from deepagents.backends.utils import (
    InvalidGlobPatternError,
    compile_grep_include_glob,
    create_file_data,
    normalize_read_bounds,
    perform_string_replacement,
    slice_read_response,
)

from sessionbox.errors import (
    Forbidden,
    InvalidInput,
    IsADirectory,
    NotFound,
    ReadOnly,
    SessionboxError,
)
from sessionbox.types import Entry

GREP_CEILING = 100_000  # the server's largest max_matches


def _message(exc: SessionboxError) -> str:
    return f"{exc.code}: {exc.detail}"


def _operation_error(exc: SessionboxError) -> str:
    """A ``FileOperationError`` literal where one fits, else ``code: detail``."""
    if isinstance(exc, NotFound):
        return "file_not_found"
    if isinstance(exc, IsADirectory):
        return "is_directory"
    if isinstance(exc, Forbidden | ReadOnly):
        return "permission_denied"
    if isinstance(exc, InvalidInput):
        return "invalid_path"
    return _message(exc)


def _info(entry: Entry) -> FileInfo:
    return FileInfo(
        path=entry.path + "/" if entry.is_directory and entry.path != "/" else entry.path,
        is_dir=entry.is_directory,
        size=0 if entry.is_directory else entry.size_bytes,
        modified_at=entry.updated_at.isoformat(),
    )


def _relative(path: str, root: str) -> str:
    """``path`` relative to the search root (a file searched directly is its name)."""
    if root == "/":
        return path[1:]
    if path == root:
        return path.rsplit("/", 1)[-1]
    return path[len(root) + 1 :]


def _root(path: str | None) -> str:
    root = path or "/"
    root = root if root.startswith("/") else "/" + root
    return root.rstrip("/") or "/"


class SessionboxBackend(BackendProtocol):
    """deepagents ``BackendProtocol`` over one session's SDK ``files`` object.

    Failures are answered in the result's ``error`` field (as the protocol
    expects from a tool boundary), never raised; the text starts with the
    sessionbox error ``code``. ``edit`` writes with the ETag it read, so a
    concurrent change makes the edit fail instead of being lost.
    """

    def __init__(self, files: Any) -> None:
        self.files = files

    def ls(self, path: str) -> LsResult:
        try:
            entry = self.files.stat(path)
            if not entry.is_directory:
                return LsResult(error=f"Path '{path}': not_a_directory")
            entries = self.files.list(path)
        except NotFound:
            return LsResult(error=f"Path '{path}': path_not_found")
        except SessionboxError as exc:
            return LsResult(error=f"Path '{path}': {_message(exc)}")
        return LsResult(entries=sorted((_info(e) for e in entries), key=lambda i: i["path"]))

    def read(self, file_path: str, offset: int = 0, limit: int = 2000) -> ReadResult:
        try:
            entry = self.files.stat(file_path)
            data = bytes(self.files.read(file_path))
        except NotFound:
            return ReadResult(error=f"File '{file_path}' not found")
        except SessionboxError as exc:
            return ReadResult(error=f"Error reading file '{file_path}': {_message(exc)}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            binary = create_file_data(base64.standard_b64encode(data).decode(), encoding="base64")
            return ReadResult(file_data=binary)
        stamp = entry.updated_at.isoformat()
        file_data = create_file_data(text)
        file_data["created_at"], file_data["modified_at"] = entry.created_at.isoformat(), stamp
        offset, limit = normalize_read_bounds(offset, limit)
        return slice_read_response(file_data, offset, limit)

    def write(self, file_path: str, content: str) -> WriteResult:
        try:
            entry = self.files.write(file_path, content)
        except SessionboxError as exc:
            return WriteResult(error=f"Error writing '{file_path}': {_message(exc)}")
        return WriteResult(path=entry.path)

    def edit(
        self,
        file_path: str,
        old_string: str,
        new_string: str,
        replace_all: bool = False,
    ) -> EditResult:
        try:
            etag = self.files.stat(file_path).etag
            data = bytes(self.files.read(file_path))
        except NotFound:
            return EditResult(error=f"Error: File '{file_path}' not found")
        except SessionboxError as exc:
            return EditResult(error=f"Error: {_message(exc)}")
        try:
            content = data.decode("utf-8")
        except UnicodeDecodeError:
            return EditResult(error="Error: Cannot edit binary files with text replacements.")
        replaced = perform_string_replacement(content, old_string, new_string, replace_all)
        if isinstance(replaced, str):
            return EditResult(error=replaced)
        new_content, occurrences = replaced
        try:
            entry = self.files.write(file_path, new_content, etag=etag)
        except SessionboxError as exc:
            return EditResult(error=f"Error: {_message(exc)}")
        return EditResult(path=entry.path, occurrences=occurrences)

    def delete(self, file_path: str) -> DeleteResult:
        try:
            self.files.delete(file_path, recursive=True)
        except NotFound:
            return DeleteResult(error=f"Error: '{file_path}' not found")
        except SessionboxError as exc:
            return DeleteResult(error=f"Error deleting '{file_path}': {_message(exc)}")
        return DeleteResult(path=file_path)

    def _walk(self, root: str) -> list[Entry]:
        """Every file at or below ``root`` (one list call per directory)."""
        top = self.files.stat(root)
        if not top.is_directory:
            return [top]
        found: list[Entry] = []
        pending = [root]
        while pending:
            for e in self.files.list(pending.pop()):
                if e.is_directory:
                    pending.append(e.path)
                else:
                    found.append(e)
        return found

    def glob(self, pattern: str, path: str | None = None) -> GlobResult:
        root = _root(path)
        try:
            matcher = compile_grep_include_glob(pattern)
            entries = self._walk(root)
        except InvalidGlobPatternError as exc:
            return GlobResult(error=str(exc))
        except NotFound:
            return GlobResult(matches=[])
        except SessionboxError as exc:
            return GlobResult(error=_message(exc))
        hits = [e for e in entries if matcher(_relative(e.path, root))]
        hits.sort(key=lambda e: (_newest_first(e.updated_at), e.path))
        return GlobResult(matches=[_info(e) for e in hits])

    def grep(
        self,
        pattern: str,
        path: str | None = None,
        glob: str | None = None,
        *,
        max_count: int | None = None,
    ) -> GrepResult:
        root = _root(path)
        budget = GREP_CEILING if glob or max_count is None else min(max_count + 1, GREP_CEILING)
        try:
            matcher = compile_grep_include_glob(glob) if glob else None
            found = self.files.grep(re.escape(pattern), path=root, max_matches=budget)
        except InvalidGlobPatternError as exc:
            return GrepResult(error=str(exc))
        except NotFound:
            return GrepResult(matches=[])
        except SessionboxError as exc:
            return GrepResult(error=_message(exc))
        matches: list[GrepMatch] = [
            GrepMatch(path=f.path, line=m.line_number, text=m.line)
            for f in found
            if matcher is None or matcher(_relative(f.path, root))
            for m in f.matches
        ]
        hit_ceiling = sum(len(f.matches) for f in found) >= GREP_CEILING
        if max_count is not None and len(matches) > max_count:
            return GrepResult(matches=matches[:max_count], truncated=True)
        return GrepResult(matches=matches, truncated=hit_ceiling)

    def upload_files(self, files: list[tuple[str, bytes]]) -> list[FileUploadResponse]:
        answers: list[FileUploadResponse] = []
        for path, content in files:
            try:
                self.files.write(path, content)
                answers.append(FileUploadResponse(path=path))
            except SessionboxError as exc:
                answers.append(FileUploadResponse(path=path, error=_operation_error(exc)))
        return answers

    def download_files(self, paths: list[str]) -> list[FileDownloadResponse]:
        answers: list[FileDownloadResponse] = []
        for path in paths:
            try:
                answers.append(
                    FileDownloadResponse(path=path, content=bytes(self.files.read(path)))
                )
            except SessionboxError as exc:
                answers.append(FileDownloadResponse(path=path, error=_operation_error(exc)))
        return answers


def _newest_first(stamp: datetime) -> float:
    return -stamp.timestamp()


__all__ = ["SessionboxBackend"]

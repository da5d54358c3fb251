"""Searching file contents: the Everruns grep contract over any volume."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sessionbox import paths
from sessionbox.errors import PatternInvalid
from sessionbox.paths import VPath
from sessionbox.types import Entry

MAX_LINE_CHARS = 4096


@dataclass(frozen=True, slots=True)
class GrepMatch:
    path: str
    line_number: int
    line: str


@dataclass(frozen=True, slots=True)
class GrepFile:
    path: str
    matches: list[GrepMatch]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        raise PatternInvalid(f"not a valid regular expression: {exc}") from None


def glob_to_regex(glob: str) -> re.Pattern[str]:
    """Translate a glob (``*``, ``?``, ``[..]``, ``**`` across directories) to a regex."""
    out, i = [], 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = glob.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = glob[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    try:
        return re.compile("".join(out) + r"\Z", re.DOTALL)
    except re.error as exc:
        raise PatternInvalid(f"not a valid glob: {glob!r} ({exc})") from None


class PathFilter:
    """``*.rs`` matches names anywhere; a pattern with ``/`` matches the path below the root."""

    def __init__(self, glob: str | None, root: VPath) -> None:
        self._regex = glob_to_regex(glob.lstrip("/")) if glob else None
        self._on_path = bool(glob and "/" in glob)
        self._root = root

    def __call__(self, path: VPath) -> bool:
        if self._regex is None:
            return True
        if self._on_path:
            relative = path[len(self._root) :] if self._root != paths.ROOT else path
            return self._regex.match(relative.lstrip("/")) is not None
        return self._regex.match(paths.name(path)) is not None


def decode_text(data: bytes) -> str | None:
    """The text of a file, or None when it is binary (a NUL early on, or not UTF-8)."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def grep(
    files: Iterable[tuple[Entry, bytes | None]],
    regex: re.Pattern[str],
    wanted: PathFilter,
    max_matches: int,
) -> list[GrepFile]:
    results: list[GrepFile] = []
    budget = max_matches
    for entry, data in files:
        if entry.is_directory or data is None or not wanted(entry.path):
            continue
        text = decode_text(data)
        if text is None:
            continue
        found = []
        for number, line in enumerate(text.split("\n"), start=1):
            if regex.search(line):
                found.append(GrepMatch(entry.path, number, line.rstrip("\r")[:MAX_LINE_CHARS]))
                budget -= 1
                if budget == 0:
                    break
        if found:
            results.append(GrepFile(entry.path, found))
        if budget == 0:
            break
    return results

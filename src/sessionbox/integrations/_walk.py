"""Finding files by glob through the SDK API, shared by the MCP and deepagents tools."""

from __future__ import annotations

from typing import Any

from sessionbox.services.grep import glob_to_regex


def find(files: Any, pattern: str, path: str = "/") -> list[Any]:
    """Entries of files below ``path`` whose relative path matches ``pattern``.

    A pattern without ``/`` also matches bare names at any depth (``*.py``), like grep's.
    """
    regex = glob_to_regex(pattern.lstrip("/"))
    found: list[Any] = []
    pending = [path]
    while pending:
        for e in files.list(pending.pop()):
            if e.is_directory:
                pending.append(e.path)
                continue
            relative = e.path[len(path) :].lstrip("/") if path != "/" else e.path[1:]
            if regex.fullmatch(relative) or ("/" not in pattern and regex.fullmatch(e.name)):
                found.append(e)
    return sorted(found, key=lambda e: e.path)

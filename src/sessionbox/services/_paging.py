"""Opaque keyset cursors: the last key of a page, base64url-encoded."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Generic, TypeVar

from sessionbox.errors import CursorInvalid

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = "\0"
    if "\0" in key:  # no key holds NUL, and PostgreSQL text refuses it (a 500, not a 400)
        raise CursorInvalid(f"not a cursor this server issued: {cursor[:100]!r}")
    return key


def clamp_limit(limit: int | None, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if limit < 1:
        raise CursorInvalid("limit must be at least 1")
    return min(limit, maximum)

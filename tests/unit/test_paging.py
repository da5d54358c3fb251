"""Cursors: what the server issued decodes back; anything else is ``cursor_invalid``."""

from __future__ import annotations

import pytest

from sessionbox.errors import CursorInvalid
from sessionbox.services._paging import clamp_limit, decode_cursor, encode_cursor


@pytest.mark.parametrize("key", ["a", "é~x", "d%_", "01a21555-ff9d-75e7-bf29-4315278ab365"])
def test_round_trip(key: str) -> None:
    assert decode_cursor(encode_cursor(key)) == key


@pytest.mark.parametrize("cursor", ["%%%", "AAAA", "AA", "_w", "YQ==x", encode_cursor("a\0b")])
def test_garbage_is_cursor_invalid(cursor: str) -> None:
    with pytest.raises(CursorInvalid):
        decode_cursor(cursor)


def test_limits() -> None:
    assert clamp_limit(None, 10, 100) == 10
    assert clamp_limit(10**30, 10, 100) == 100
    with pytest.raises(CursorInvalid):
        clamp_limit(0, 10, 100)

"""Byte ranges of a file, decided once for the service, the raw route and both SDKs.

A range is half-open, ``[start, end)`` (``end`` None: to the end of the file),
as in ``files.read_stream(path, start, end)``. Reading without a range is the
whole file, even an empty one. An asked-for range must hold at least one byte
of the file, as in HTTP (RFC 9110 §14.1.1): an empty or reversed range
(``end <= start``), a negative start, or a start at or past the end is
``RangeNotSatisfiable``, in-process and over HTTP alike. HTTP cannot even
express an empty range, which is why the stricter rule is the one for both.
"""

from __future__ import annotations

import re

from sessionbox.errors import RangeNotSatisfiable

_HEADER = re.compile(r"bytes=(\d*)-(\d*)")


def check_shape(start: int, end: int | None) -> None:
    """What a range may be before the file's size is known: non-negative, non-empty."""
    if start < 0 or (end is not None and end <= start):
        raise RangeNotSatisfiable(_EMPTY.format(start=start, end=end))


def resolve(size: int, start: int, end: int | None) -> tuple[int, int]:
    """The range ``[start, end)`` of a file of ``size`` bytes, its end clipped to the size."""
    if start < 0 or (end is not None and end <= start):
        detail = _EMPTY.format(start=start, end=end)
    elif start >= size:
        detail = f"the file has {size} bytes; a range must start before its end"
    else:
        return start, size if end is None else min(end, size)
    raise RangeNotSatisfiable(detail, content_range=f"bytes */{size}")


_EMPTY = "[{start}, {end}) is no range: it must start at 0 or later and end after its start"


def is_whole(start: int, end: int | None) -> bool:
    """``(0, None)`` asks for no range: the whole file."""
    return start == 0 and end is None


def to_header(start: int, end: int | None) -> str:
    """The ``Range`` header of ``[start, end)``; its shape is checked here, before sending."""
    check_shape(start, end)
    return f"bytes={start}-{'' if end is None else end - 1}"


def from_header(header: str | None, size: int) -> tuple[int, int] | None:
    """The range a ``Range`` header asks of a file of ``size`` bytes; None for none (no
    header, or one this server ignores: several ranges, another unit, no numbers)."""
    match = _HEADER.fullmatch(header.strip()) if header else None
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.groups()
    if not first:  # the last N bytes; N = 0 holds none
        suffix = int(last)
        return resolve(size, max(size - suffix, 0) if suffix else size, None)
    return resolve(size, int(first), int(last) + 1 if last else None)

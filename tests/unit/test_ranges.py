"""``Range`` headers against the one range rule (``sessionbox.ranges``)."""

from __future__ import annotations

import pytest

from sessionbox import ranges
from sessionbox.errors import RangeNotSatisfiable

# (header, file size, the range served; None: the whole file, 200; "416": refused)
HEADERS: list[tuple[str | None, int, tuple[int, int] | None | str]] = [
    (None, 10, None),
    ("", 10, None),
    ("bytes=0-", 10, (0, 10)),
    ("bytes=0-0", 10, (0, 1)),
    ("bytes=2-4", 10, (2, 5)),
    ("bytes=2-400", 10, (2, 10)),
    ("bytes=-3", 10, (7, 10)),
    ("bytes=-30", 10, (0, 10)),
    (" bytes=1-2 ", 10, (1, 3)),
    ("bytes=-0", 10, "416"),
    ("bytes=10-", 10, "416"),
    ("bytes=5-3", 10, "416"),
    ("bytes=0-", 0, "416"),
    ("bytes=-5", 0, "416"),
    ("bytes=-", 10, None),  # no numbers: ignored
    ("bytes=0-1,4-5", 10, None),  # several ranges: ignored, the whole file
    ("items=0-1", 10, None),
]


@pytest.mark.parametrize(("header", "size", "served"), HEADERS)
def test_from_header(header: str | None, size: int, served: tuple[int, int] | None | str) -> None:
    if served == "416":
        with pytest.raises(RangeNotSatisfiable) as refused:
            ranges.from_header(header, size)
        assert refused.value.extra == {"content_range": f"bytes */{size}"}
        return
    assert ranges.from_header(header, size) == served


@pytest.mark.parametrize(("start", "end"), [(0, 1), (5, None), (9, 10), (0, 100)])
def test_the_sdk_header_reads_back_as_the_same_range(start: int, end: int | None) -> None:
    wanted = ranges.resolve(10, start, end)
    assert ranges.from_header(ranges.to_header(start, end), 10) == wanted


@pytest.mark.parametrize(("start", "end"), [(0, 0), (3, 2), (-1, None), (-1, 5)])
def test_a_range_that_cannot_be_sent_is_refused_before_sending(start: int, end: int | None) -> None:
    with pytest.raises(RangeNotSatisfiable):
        ranges.to_header(start, end)

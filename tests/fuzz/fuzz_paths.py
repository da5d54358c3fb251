"""atheris target: path validation.

Properties, not just "no crash": ``validate`` returns its input unchanged or
raises ``PathInvalid``; the fast ASCII path and the full check agree; a valid
path has no empty, ``.`` or ``..`` segment, no NUL or backslash, is NFC and
within the byte limit; its parent is valid and contains it.

Run: ``python -m tests.fuzz.fuzz_paths -max_total_time=60``
"""

from __future__ import annotations

import sys
import unicodedata

import atheris

with atheris.instrument_imports(include=["sessionbox.paths", "sessionbox.ids"]):
    from sessionbox import paths
    from sessionbox.errors import PathInvalid, PathReserved


def outcome(fn: object, text: str) -> str | None:
    try:
        return fn(text)  # type: ignore[operator, no-any-return]
    except PathInvalid:
        return None


def check(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = fdp.ConsumeUnicodeNoSurrogates(4200) if fdp.ConsumeBool() else fdp.ConsumeUnicode(300)
    if fdp.ConsumeBool():
        text = "/" + text
    valid = outcome(paths.validate, text)
    if text.startswith("/") and text != "/":
        assert valid == outcome(lambda t: paths._validate_fully(t, paths.MAX_PATH_BYTES), text), (
            text
        )
    if valid is None:
        return
    assert valid == text
    if valid == "/":
        return
    segments = valid[1:].split("/")
    assert all(s not in ("", ".", "..") for s in segments), valid
    assert "\x00" not in valid and "\\" not in valid, valid
    assert unicodedata.is_normalized("NFC", valid), valid
    assert len(valid.encode()) <= paths.MAX_PATH_BYTES
    above = paths.parent(valid)
    assert paths.validate(above) == above
    assert paths.is_within(valid, above) and paths.join(above, paths.name(valid)) == valid
    low, high = paths.subtree_bounds(valid)
    assert not (low < valid < high)  # a path is not inside its own subtree range
    try:
        paths.validate_writable(valid)
    except PathReserved:
        assert paths.is_reserved(valid)


def main() -> None:
    atheris.Setup(sys.argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

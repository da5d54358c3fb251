"""Virtual paths: one validator that every layer trusts.

A valid path is absolute, uses ``/`` as its only separator, and names each
segment literally. Nothing is normalised silently: a path that would need
fixing is refused with ``path_invalid``, so what a client writes is exactly
what it later lists. The rules (each one a test):

* starts with ``/``; ``/`` alone is the root; no trailing ``/`` otherwise;
* no empty segment (``//``), no ``.`` or ``..`` segment, not even after
  percent-decoding (``%2e%2e``), so a path that passes one URL decoder too many
  cannot climb out;
* no NUL, no control character or line/paragraph separator, no backslash (a
  separator elsewhere), no lone surrogate (invalid UTF-8), no invisible bidi /
  zero-width format character,
  and Unicode NFC form (so two names that look the same are the same bytes);
* at most ``MAX_PATH_BYTES`` bytes in all and ``MAX_SEGMENT_BYTES`` per segment.

A first segment starting with ``_`` is reserved for actions (``/_/stat``)
and refused on writes with ``path_reserved``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import NewType
from urllib.parse import unquote

from sessionbox.errors import PathInvalid, PathReserved

VPath = NewType("VPath", str)
"""A path that passed :func:`validate`."""

ROOT = VPath("/")
MAX_PATH_BYTES = 4096
MAX_SEGMENT_BYTES = 255

# Characters that make two different names look alike or reorder text on screen.
_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068"
    "\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)


# Controls, lone surrogates, and U+2028/U+2029, which break lines like a newline does.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})

# Printable ASCII without '%' or '\\', segments of 1+ chars: the common case, checked in one match.
_PLAIN = re.compile(r"(?:/[\x20-\x24\x26-\x2e\x30-\x5b\x5d-\x7e]+)+")


def validate(path: str, *, max_bytes: int = MAX_PATH_BYTES) -> VPath:
    """Return ``path`` unchanged if it is valid, else raise ``PathInvalid``."""
    if not isinstance(path, str) or not path:
        raise PathInvalid("path must be a non-empty string starting with '/'")
    if path[0] != "/":
        raise PathInvalid(f"path must start with '/': {path!r}")
    if path == "/":
        return ROOT
    if len(path) <= MAX_SEGMENT_BYTES and _PLAIN.fullmatch(path) and "/." not in path:
        return VPath(path)  # printable ASCII, no '%', '\\', '//' or dot-led segment: valid
    return _validate_fully(path, max_bytes)


def _validate_fully(path: str, max_bytes: int) -> VPath:
    if path.endswith("/"):
        raise PathInvalid(f"path must not end with '/': {path!r}")
    try:
        encoded = path.encode("utf-8")
    except UnicodeEncodeError:
        raise PathInvalid("path is not valid UTF-8 (lone surrogate)") from None
    if len(encoded) > max_bytes:
        raise PathInvalid(f"path is longer than {max_bytes} bytes")
    for segment in path[1:].split("/"):
        _check_segment(segment, path)
    if not unicodedata.is_normalized("NFC", path):
        raise PathInvalid(f"path must be in Unicode NFC form: {path!r}")
    return VPath(path)


def _check_segment(segment: str, path: str) -> None:
    if not segment:
        raise PathInvalid(f"path must not contain '//': {path!r}")
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise PathInvalid(f"path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    for char in segment:
        if char == "\\":
            raise PathInvalid(f"path must not contain a backslash: {path!r}")
        if char in _INVISIBLE or unicodedata.category(char) in _REFUSED_CATEGORIES:
            raise PathInvalid(f"path contains a control or invisible character: {path!r}")
    decoded = segment
    for _ in range(4):  # %252e%252e and friends: decode until stable
        if decoded in (".", ".."):
            raise PathInvalid(f"path must not contain '.' or '..' segments: {path!r}")
        if "/" in decoded or "\\" in decoded or "\x00" in decoded:
            raise PathInvalid(f"path segment decodes to a separator: {path!r}")
        nxt = unquote(decoded)
        if nxt == decoded:
            break
        decoded = nxt


def validate_writable(path: str) -> VPath:
    """Validate a path that will be created or changed: also refuse reserved names."""
    valid = validate(path)
    if is_reserved(valid):
        raise PathReserved(f"paths whose first segment starts with '_' are reserved: {path!r}")
    if valid == ROOT:
        raise PathInvalid("the root directory cannot be written")
    return valid


def is_reserved(path: VPath) -> bool:
    return path.startswith("/_")


def parent(path: VPath) -> VPath:
    """The directory holding ``path``; the root is its own parent."""
    if path == ROOT:
        return ROOT
    head = path.rsplit("/", 1)[0]
    return VPath(head or "/")


def name(path: VPath) -> str:
    return path.rsplit("/", 1)[1]


def join(directory: VPath, child: str) -> VPath:
    return VPath(("" if directory == ROOT else directory) + "/" + child)


def ancestors(path: VPath) -> list[VPath]:
    """Every directory above ``path``, outermost first, without the root."""
    parts = path.split("/")[1:-1]
    return [VPath("/" + "/".join(parts[: i + 1])) for i in range(len(parts))]


def is_within(path: VPath, directory: VPath) -> bool:
    """True if ``path`` is ``directory`` or lies below it."""
    if directory == ROOT:
        return True
    return path == directory or path.startswith(directory + "/")


def rebase(path: VPath, old: VPath, new: VPath) -> VPath:
    """Move ``path`` (which lies within ``old``) to the same place under ``new``."""
    return VPath(new + path[len(old) :]) if old != ROOT else join(new, path[1:])


def subtree_bounds(directory: VPath) -> tuple[str, str]:
    """Half-open range ``[low, high)`` holding exactly the descendants of ``directory``.

    ``'0'`` is the character after ``'/'``, so ``/d/`` .. ``/d0`` never includes
    the neighbour ``/d-x`` or ``/d%`` (a raw ``LIKE '/d%'`` would).
    """
    if directory == ROOT:
        return "/", "0"
    return directory + "/", directory + "0"


def iter_segments(path: VPath) -> Iterator[str]:
    if path != ROOT:
        yield from path[1:].split("/")

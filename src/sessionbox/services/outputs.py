"""Tool outputs (Caco): stored once, referenced from chat history by a marker.

An output lives in the session's ``outputs`` volume as ``/out_<n>.txt``,
``.json`` or ``.b64`` (by kind), with its metadata in the entry's ``meta``.
Ids come from a counter kept in the entry ``/_seq`` of the same volume,
bumped inside the writing transaction: ids are unique and increasing under
concurrent writers and never reused after a delete.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sessionbox import paths
from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.errors import CursorInvalid, EncodingInvalid, InvalidInput, NotFound, OutputNotFound
from sessionbox.ids import parse_session_id, validate_agent_id
from sessionbox.paths import VPath
from sessionbox.services._bytecache import ByteCache
from sessionbox.services._paging import Page, clamp_limit, decode_cursor, encode_cursor
from sessionbox.store.base import Store, VolumeReader, VolumeWriter
from sessionbox.types import Entry, VolumeKey

OUTPUT_TYPES = ("file", "terminal", "image", "embed", "raw")
EXTENSIONS = ("txt", "json", "b64")
SEQ_PATH = VPath("/_seq")
MARKER = re.compile(r"\[output:(out_[1-9][0-9]{0,17})\]")
_ID = re.compile(r"out_([1-9][0-9]{0,17})")
FILE_NAME = re.compile(r"out_([1-9][0-9]{0,17})\.(txt|json|b64)")
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
MAX_METADATA_BYTES = 64 * 1024
MAX_RESOLVE_IDS = 1000
DEFAULT_PAGE = 100


def format_marker(output_id: str) -> str:
    """The text an agent puts in a tool result: ``[output:out_7]``."""
    return f"[output:{output_id}]"


def parse_output_id(output_id: str) -> int:
    match = _ID.fullmatch(output_id)
    if match is None:
        raise OutputNotFound(f"no output {output_id!r}: ids look like out_<n>")
    return int(match.group(1))


def output_file(entry: Entry) -> tuple[int, str] | None:
    """(n, extension) for an output's file, None for anything else in the volume."""
    match = FILE_NAME.fullmatch(entry.name)
    if match is None or entry.is_directory:
        return None
    return int(match.group(1)), match.group(2)


def validate_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Check the OutputMetadata object; unknown keys are kept as given."""
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a JSON object")
    kind = metadata.get("type")
    if kind not in OUTPUT_TYPES:
        raise InvalidInput(f"metadata.type must be one of {', '.join(OUTPUT_TYPES)}")
    for key in ("createdAt", "path", "command", "highlight", "mimeType"):
        if key in metadata and not isinstance(metadata[key], str):
            raise InvalidInput(f"metadata.{key} must be a string")
    mime = metadata.get("mimeType")
    if mime is not None and not _MIME.fullmatch(mime):
        raise InvalidInput(f"metadata.mimeType {mime!r} is not a media type like text/plain")
    if len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is over {MAX_METADATA_BYTES} bytes")
    return metadata


@dataclass(frozen=True, slots=True)
class Output:
    """One stored output; ``data`` is None in listings."""

    id: str
    metadata: dict[str, Any]
    encoding: str
    size_bytes: int
    etag: str
    created_at: datetime
    data: str | None = None

    @property
    def marker(self) -> str:
        return format_marker(self.id)

    @property
    def raw(self) -> bytes:
        """The output's bytes (base64 outputs decoded)."""
        assert self.data is not None
        return base64.b64decode(self.data) if self.encoding == "base64" else self.data.encode()

    @property
    def media_type(self) -> str:
        mime = self.metadata.get("mimeType")
        if isinstance(mime, str):
            return mime
        return {"text": "text/plain", "json": "application/json"}.get(
            self.encoding, "application/octet-stream"
        )


def _extension(encoding: str, data: str, metadata: dict[str, Any]) -> str:
    if encoding == "base64":
        return "b64"
    mime = str(metadata.get("mimeType", ""))
    if mime == "application/json" or mime.endswith("+json"):
        try:
            json.loads(data)
        except ValueError:
            return "txt"
        return "json"
    return "txt"


def _to_output(entry: Entry, n: int, ext: str, data: bytes | None) -> Output:
    return Output(
        id=f"out_{n}",
        metadata=entry.meta,
        encoding="base64" if ext == "b64" else "text",
        size_bytes=entry.size_bytes,
        etag=entry.etag,
        created_at=entry.created_at,
        data=data.decode("utf-8") if data is not None else None,
    )


class OutputService:
    def __init__(self, store: Store, settings: Settings, cache: ByteCache | None = None) -> None:
        self.store = store
        self.settings = settings
        self.cache = cache

    def volume(self, agent_id: str, session_id: str) -> VolumeKey:
        validate_agent_id(agent_id)
        return VolumeKey(agent_id, str(parse_session_id(session_id)), "outputs")

    def store_output(
        self,
        agent_id: str,
        session_id: str,
        data: str,
        *,
        encoding: str = "text",
        metadata: dict[str, Any],
    ) -> Output:
        meta = dict(validate_metadata(metadata))
        meta.setdefault("createdAt", datetime.now(UTC).isoformat().replace("+00:00", "Z"))
        if encoding == "base64":
            try:
                base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                raise EncodingInvalid("data is not valid base64") from None
        elif encoding != "text":
            raise EncodingInvalid("encoding must be 'text' or 'base64'")
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodingInvalid("data is not valid UTF-8 text (lone surrogate)") from None
        ext = _extension(encoding, data, meta)
        content = Content.of(raw)

        def run(vol: VolumeWriter) -> Output:
            n = allocate_id(vol)
            entry, _ = vol.write(
                VPath(f"/out_{n}.{ext}"),
                content,
                mode="create",
                content_type=_content_type(ext),
                meta=meta,
            )
            return _to_output(entry, n, ext, None)

        return self.store.update(self.volume(agent_id, session_id), run)

    def get_output(
        self, agent_id: str, session_id: str, output_id: str, *, max_bytes: int | None = None
    ) -> Output:
        """One output with its data; ``TooLarge`` past ``max_bytes`` (default: the JSON limit)."""
        limit = self.settings.json_read_limit_bytes if max_bytes is None else max_bytes
        # The id is parsed inside the transaction: a missing session answers first.
        return self.store.view(
            self.volume(agent_id, session_id),
            lambda vol: self._read(vol, parse_output_id(output_id), limit),
        )

    def _read(self, vol: VolumeReader, n: int, limit: int) -> Output:
        entry, ext = find_output(vol, n)
        data = self.cache.get(entry.content_hash or "") if self.cache else None
        if data is None:
            _, data = vol.read(entry.path, max_bytes=limit)
            if self.cache is not None:
                self.cache.put(entry.content_hash or "", data)
        return _to_output(entry, n, ext, data)

    def list_outputs(
        self,
        agent_id: str,
        session_id: str,
        *,
        type: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Output]:
        """Metadata in id order; a page starts after the id in ``cursor``."""
        size = clamp_limit(limit, DEFAULT_PAGE, self.settings.list_page_max)
        after_text = decode_cursor(cursor)
        if after_text and not after_text.isdigit():
            raise CursorInvalid(f"not a cursor this server issued: {cursor!r}")
        after = int(after_text) if after_text else 0
        if type is not None and type not in OUTPUT_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(OUTPUT_TYPES)}")

        def run(vol: VolumeReader) -> list[Output]:
            found = []
            for entry, _ in vol.walk(paths.ROOT, with_content=False):
                parsed = output_file(entry)
                if parsed is None or parsed[0] <= after or entry.path.count("/") != 1:
                    continue
                if type is not None and entry.meta.get("type") != type:
                    continue
                found.append(_to_output(entry, parsed[0], parsed[1], None))
            found.sort(key=lambda o: int(o.id[4:]))
            return found[: size + 1]

        items = self.store.view(self.volume(agent_id, session_id), run)
        more = len(items) > size
        items = items[:size]
        return Page(items, encode_cursor(items[-1].id[4:]) if more else None)

    def delete_output(self, agent_id: str, session_id: str, output_id: str) -> None:
        def run(vol: VolumeWriter) -> Entry:
            entry, _ = find_output(vol, parse_output_id(output_id))
            vol.delete(entry.path)
            return entry

        entry = self.store.update(self.volume(agent_id, session_id), run)
        if self.cache is not None and entry.content_hash:
            self.cache.discard(entry.content_hash)

    def resolve_markers(
        self,
        agent_id: str,
        session_id: str,
        texts: Iterable[str],
    ) -> tuple[list[Output], list[str]]:
        """Every output a ``[output:out_<n>]`` marker names, in order of first mention.

        Outputs past the JSON read budget come without ``data`` (fetch them by id).
        """
        wanted: list[int] = []
        seen: set[int] = set()
        for text in texts:
            for match in MARKER.finditer(text):
                n = int(match.group(1)[4:])
                if n not in seen:
                    seen.add(n)
                    wanted.append(n)
                    if len(wanted) > MAX_RESOLVE_IDS:
                        raise InvalidInput(f"more than {MAX_RESOLVE_IDS} distinct markers")
        budget = self.settings.json_read_limit_bytes

        def run(vol: VolumeReader) -> tuple[list[Output], list[str]]:
            found: list[Output] = []
            missing: list[str] = []
            spent = 0
            for n in wanted:
                try:
                    found_entry = find_output(vol, n)
                except NotFound:
                    missing.append(f"out_{n}")
                    continue
                entry, ext = found_entry
                if spent + entry.size_bytes > budget:
                    found.append(_to_output(entry, n, ext, None))
                    continue
                spent += entry.size_bytes
                found.append(self._read(vol, n, budget))
            return found, missing

        return self.store.view(self.volume(agent_id, session_id), run)


def strings_in(value: Any, *, depth: int = 0) -> Iterator[str]:
    """Every string inside a JSON value (chat messages of any shape)."""
    if depth > 64:
        raise InvalidInput("messages are nested too deeply")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item, depth=depth + 1)


def allocate_id(vol: VolumeWriter) -> int:
    """The next output number; the caller's transaction makes it unique."""
    try:
        seq = vol.stat(SEQ_PATH)
    except NotFound:
        vol.write(SEQ_PATH, Content.of(b""), mode="create", meta={"next": 2})
        return 1
    n = int(seq.meta.get("next", 1))
    vol.set_attrs(SEQ_PATH, meta={"next": n + 1})
    return n


def set_next_id(vol: VolumeWriter, n: int) -> None:
    """Make the counter hand out ``n`` next (imports restore it)."""
    vol.write(SEQ_PATH, Content.of(b""), mode="upsert", meta={"next": n})


def find_output(vol: VolumeReader, n: int) -> tuple[Entry, str]:
    for ext in EXTENSIONS:
        try:
            return vol.stat(VPath(f"/out_{n}.{ext}")), ext
        except NotFound:
            continue
    raise OutputNotFound(f"no output out_{n}")


def _content_type(ext: str) -> str:
    return {"txt": "text/plain", "json": "application/json"}.get(ext, "text/plain")

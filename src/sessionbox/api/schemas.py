"""Request and response bodies, and the one function per value that renders it."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sessionbox.errors import EncodingInvalid
from sessionbox.ids import AGENT_ID_PATTERN, SESSION_ID_PATTERN
from sessionbox.services.grep import GrepFile, decode_text
from sessionbox.types import Entry

Encoding = Literal["text", "base64"]


# Documented, not enforced by pydantic: the ids module checks them and answers with
# its own problem codes (``session_id_invalid``, ``agent_id_invalid``).
SESSION_ID_DOC: dict[str, Any] = {"pattern": SESSION_ID_PATTERN}
AGENT_ID_DOC: dict[str, Any] = {"pattern": AGENT_ID_PATTERN}


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class CreateBody(Body):
    content: str | None = None
    encoding: Encoding = "text"
    is_directory: bool = False
    is_readonly: bool = False


class UpdateBody(Body):
    content: str | None = None
    encoding: Encoding = "text"
    is_readonly: bool | None = None
    is_directory: bool = False


class StatBody(Body):
    path: str


class MoveBody(Body):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)
    from_: str = Field(alias="from")
    to: str
    overwrite: bool = False


class GrepBody(Body):
    pattern: str
    path_pattern: str | None = None
    path: str = "/"
    max_matches: int | None = Field(default=None, ge=1)


class CreateSessionBody(Body):
    id: str | None = Field(default=None, json_schema_extra=SESSION_ID_DOC)
    mode: Literal["safe", "unsafe"] | None = None
    ttl_seconds: int | None = Field(default=None, ge=1)


class ResolveBody(Body):
    mode: Literal["safe", "unsafe"]
    panel_path: str | None = None
    parent_session: str | None = None
    name: str | None = None
    session_id: str | None = None
    new_session: bool = False


class ResolveOut(BaseModel):
    session_id: str
    partition: str
    resumable: bool
    created: bool


class EntryOut(BaseModel):
    id: str
    session_id: str
    path: str
    name: str
    is_directory: bool
    is_readonly: bool
    size_bytes: int
    content_type: str | None
    meta: dict[str, Any]
    etag: str
    created_at: datetime
    updated_at: datetime


class FileOut(EntryOut):
    content: str
    encoding: Encoding


class ListOut(BaseModel):
    data: list[EntryOut]
    next_cursor: str | None


class DeletedOut(BaseModel):
    deleted: int


class GrepMatchOut(BaseModel):
    path: str
    line_number: int
    line: str


class GrepFileOut(BaseModel):
    path: str
    matches: list[GrepMatchOut]


class GrepOut(BaseModel):
    data: list[GrepFileOut]


class SessionOut(BaseModel):
    id: str
    agent_id: str
    mode: str
    type: str
    partition: str
    created_at: datetime
    last_active_at: datetime
    expires_at: datetime | None
    scope_dir: str | None = Field(
        default=None, description="Host directory of an unsafe session (admin and unsafe tokens)"
    )


class SessionListOut(BaseModel):
    data: list[SessionOut]
    next_cursor: str | None


class AgentListOut(BaseModel):
    data: list[str]
    next_cursor: str | None


def file_json(entry: Entry, data: bytes, session_id: str) -> dict[str, Any]:
    text = decode_text(data)
    body = entry.to_json(session_id)
    if text is None:
        body.update(content=base64.b64encode(data).decode("ascii"), encoding="base64")
    else:
        body.update(content=text, encoding="text")
    return body


def grep_json(results: list[GrepFile]) -> dict[str, Any]:
    return {
        "data": [
            {
                "path": item.path,
                "matches": [
                    {"path": m.path, "line_number": m.line_number, "line": m.line}
                    for m in item.matches
                ],
            }
            for item in results
        ]
    }


def decode_content(content: str | None, encoding: Encoding) -> bytes:
    """The bytes a JSON body carries; ``EncodingInvalid`` for bad base64 or lone surrogates."""
    if content is None:
        return b""
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise EncodingInvalid("content is not valid base64") from None
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError:
        raise EncodingInvalid("content is not valid UTF-8 text (lone surrogate)") from None

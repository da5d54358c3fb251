"""The one exception hierarchy of sessionbox.

Every error a caller can cause is a ``SessionboxError`` carrying a stable
``code``, an HTTP ``status``, a short ``title`` and a CLI ``exit_code``. The API
turns it into RFC 9457 problem+json in one place (``api/problems.py``); the SDK
turns the ``code`` back into the same class (``error_for_code``), so
``except sessionbox.NotFound`` works in-process and over HTTP alike.

    SessionboxError                       500 internal
    ├── InvalidInput                      400 invalid_input
    │   ├── PathInvalid                   400 path_invalid
    │   ├── PathReserved                  400 path_reserved
    │   ├── AgentIdInvalid                400 agent_id_invalid
    │   ├── SessionIdInvalid              400 session_id_invalid
    │   ├── PanelPathInvalid              400 panel_path_invalid
    │   ├── PatternInvalid                400 pattern_invalid
    │   ├── EncodingInvalid               400 encoding_invalid
    │   ├── CursorInvalid                 400 cursor_invalid
    │   ├── SnapshotInvalid               422 snapshot_invalid
    │   ├── SlugInvalid                   400 slug_invalid
    │   └── ArchiveInvalid                422 archive_invalid
    ├── Unauthorized                      401 unauthorized
    ├── Forbidden                         403 forbidden
    │   ├── ModeMismatch                  403 mode_mismatch
    │   ├── ReadOnlyToken                 403 read_only
    │   └── PathForbidden                 403 path_forbidden
    ├── NotFound (FileNotFoundError)      404 not_found
    │   ├── AgentNotFound                 404 agent_not_found
    │   ├── SessionNotFound               404 session_not_found
    │   ├── SnapshotNotFound              404 snapshot_not_found
    │   ├── OutputNotFound                404 output_not_found
    │   ├── AppletNotFound                404 applet_not_found
    │   └── TokenNotFound                 404 token_not_found
    ├── Conflict                          409 conflict
    │   ├── Exists (FileExistsError)      409 exists
    │   ├── NotADirectory                 409 not_a_directory
    │   ├── IsADirectory                  409 is_a_directory
    │   ├── DirectoryNotEmpty             409 directory_not_empty
    │   ├── ReadOnly                      409 readonly
    │   ├── SnapshotConflict              409 snapshot_conflict
    │   └── MoveIntoSelf                  409 move_into_self
    ├── PreconditionFailed                412 precondition_failed
    ├── TooLarge                          413 too_large
    ├── RangeNotSatisfiable               416 range_not_satisfiable
    ├── QuotaExceeded                     507 quota_exceeded
    ├── StorageFull                       507 storage_full
    └── Unavailable                       503 unavailable
"""

from __future__ import annotations

from typing import Any, ClassVar


class SessionboxError(Exception):
    """Base class; ``detail`` says what happened to this request."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    exit_code: ClassVar[int] = 1

    def __init__(self, detail: str = "", **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def __str__(self) -> str:
        return self.detail


class InvalidInput(SessionboxError):
    code = "invalid_input"
    status = 400
    title = "Invalid input"
    exit_code = 2


class PathInvalid(InvalidInput):
    code = "path_invalid"
    title = "Invalid path"


class PathReserved(InvalidInput):
    code = "path_reserved"
    title = "Reserved path"


class AgentIdInvalid(InvalidInput):
    code = "agent_id_invalid"
    title = "Invalid agent id"


class SessionIdInvalid(InvalidInput):
    code = "session_id_invalid"
    title = "Invalid session id"


class PanelPathInvalid(InvalidInput):
    code = "panel_path_invalid"
    title = "Invalid panel path"


class PatternInvalid(InvalidInput):
    code = "pattern_invalid"
    title = "Invalid pattern"


class EncodingInvalid(InvalidInput):
    code = "encoding_invalid"
    title = "Invalid content encoding"


class CursorInvalid(InvalidInput):
    code = "cursor_invalid"
    title = "Invalid cursor"


class SlugInvalid(InvalidInput):
    code = "slug_invalid"
    title = "Invalid applet slug"


class ArchiveInvalid(InvalidInput):
    code = "archive_invalid"
    status = 422
    title = "Archive refused"


class SnapshotInvalid(InvalidInput):
    code = "snapshot_invalid"
    status = 422
    title = "Invalid snapshot envelope"


class Unauthorized(SessionboxError):
    code = "unauthorized"
    status = 401
    title = "Unauthorized"
    exit_code = 3


class Forbidden(SessionboxError):
    code = "forbidden"
    status = 403
    title = "Forbidden"
    exit_code = 3


class ModeMismatch(Forbidden):
    code = "mode_mismatch"
    title = "Session mode mismatch"


class ReadOnlyToken(Forbidden):
    """The caller's token may only read. Its code spells the token's field, ``read_only``;
    ``ReadOnly`` (409 ``readonly``) is the other thing, an entry's ``is_readonly`` flag.
    Both codes are kept as published: clients match on them."""

    code = "read_only"
    title = "Read-only token"


class PathForbidden(Forbidden):
    code = "path_forbidden"
    title = "Path forbidden"


class NotFound(SessionboxError, FileNotFoundError):
    code = "not_found"
    status = 404
    title = "Not found"
    exit_code = 4


class AgentNotFound(NotFound):
    code = "agent_not_found"
    title = "Agent not found"


class SessionNotFound(NotFound):
    code = "session_not_found"
    title = "Session not found"


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"
    title = "Snapshot not found"


class OutputNotFound(NotFound):
    code = "output_not_found"
    title = "Output not found"


class AppletNotFound(NotFound):
    code = "applet_not_found"
    title = "Applet not found"


class TokenNotFound(NotFound):
    code = "token_not_found"
    title = "Token not found"


class Conflict(SessionboxError):
    code = "conflict"
    status = 409
    title = "Conflict"
    exit_code = 5


class Exists(Conflict, FileExistsError):
    code = "exists"
    title = "Already exists"


class NotADirectory(Conflict, NotADirectoryError):
    code = "not_a_directory"
    title = "Not a directory"


class IsADirectory(Conflict, IsADirectoryError):
    code = "is_a_directory"
    title = "Is a directory"


class DirectoryNotEmpty(Conflict):
    code = "directory_not_empty"
    title = "Directory not empty"


class ReadOnly(Conflict):
    """The entry's ``is_readonly`` flag refuses the change (the code is the contract's,
    ``readonly``); a read-only *token* is ``ReadOnlyToken`` (403 ``read_only``)."""

    code = "readonly"
    title = "Read-only entry"


class MoveIntoSelf(Conflict):
    code = "move_into_self"
    title = "Cannot move or copy a directory into itself"


class SnapshotConflict(Conflict):
    code = "snapshot_conflict"
    title = "Another snapshot has this updatedAt"


class PreconditionFailed(SessionboxError):
    code = "precondition_failed"
    status = 412
    title = "Precondition failed"
    exit_code = 6


class TooLarge(SessionboxError):
    code = "too_large"
    status = 413
    title = "Content too large"
    exit_code = 7


class RangeNotSatisfiable(SessionboxError):
    code = "range_not_satisfiable"
    status = 416
    title = "Range not satisfiable"
    exit_code = 2


class QuotaExceeded(SessionboxError):
    code = "quota_exceeded"
    status = 507
    title = "Quota exceeded"
    exit_code = 7


class StorageFull(SessionboxError):
    code = "storage_full"
    status = 507
    title = "Storage full"
    exit_code = 8


class Unavailable(SessionboxError):
    code = "unavailable"
    status = 503
    title = "Storage unavailable"
    exit_code = 8


def _all_subclasses(cls: type[SessionboxError]) -> list[type[SessionboxError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


ERRORS_BY_CODE: dict[str, type[SessionboxError]] = {
    cls.code: cls for cls in _all_subclasses(SessionboxError)
}


def error_for_code(code: str, status: int) -> type[SessionboxError]:
    """The class the server raised for ``code``; falls back by HTTP status."""
    if code in ERRORS_BY_CODE:
        return ERRORS_BY_CODE[code]
    for cls in ERRORS_BY_CODE.values():
        if cls.status == status and cls.__base__ is SessionboxError:
            return cls
    return SessionboxError

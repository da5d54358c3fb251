"""Export and import of sessions in the human-readable layout of DESIGN §8.

    sessions/<id>/files/...           the filesystem (read-only files have mode 0444)
    sessions/<id>/outputs.json        output id -> metadata
    sessions/<id>/outputs/out_1.txt
    sessions/<id>/snapshots/...
    applets/_index.json               [{slug, name, description, createdAt, updatedAt}]
    applets/<slug>/...                meta.json content.html script.js style.css state.json
                                      versions/<n>.json

Import validates the whole archive before it writes anything, then creates the
sessions and writes every volume in one store transaction
(``Store.create_sessions``): all of it or none, after a failure or a crash.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import contextlib
import functools
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sessionbox import paths
from sessionbox.config import Settings
from sessionbox.content import Content
from sessionbox.errors import (
    AppletNotFound,
    ArchiveInvalid,
    Exists,
    InvalidInput,
    NotADirectory,
    NotFound,
    SessionboxError,
    SessionNotFound,
)
from sessionbox.ids import SessionId, parse_session_id, validate_agent_id
from sessionbox.paths import VPath
from sessionbox.services import outputs as outlib
from sessionbox.services._archive import Member, OutItem, read_tar_gz, write_tar_gz
from sessionbox.services.applets import SLUG, dumps
from sessionbox.services.files import guess_type
from sessionbox.store.base import Store, VolumeReader, VolumeWriter
from sessionbox.types import Entry, NewSession, VolumeKey, VolumeKind, WriteMode

_SESSION_PARTS: dict[str, VolumeKind] = {
    "files": "files",
    "outputs": "outputs",
    "snapshots": "snapshots",
}


@dataclass(slots=True)
class _Session:
    files: dict[VolumeKind, dict[VPath, tuple[bytes | None, bool]]] = field(
        default_factory=lambda: {"files": {}, "outputs": {}, "snapshots": {}}
    )
    manifest: dict[str, Any] | None = None
    size: int = 0
    entries: int = 0


@dataclass(slots=True)
class Plan:
    """A validated archive, ready to be written."""

    sessions: dict[str, _Session] = field(default_factory=dict)
    applets: dict[VPath, tuple[bytes | None, bool]] = field(default_factory=dict)
    applet_size: int = 0


@dataclass(frozen=True, slots=True)
class ImportReport:
    sessions: list[str]
    applets: list[str]
    applets_skipped: list[str]


def _refuse(name: str, why: str) -> ArchiveInvalid:
    return ArchiveInvalid(f"{name!r}: {why}")


def _vpath(name: str, rest: list[str], *, writable: bool = True) -> VPath:
    try:
        path = "/" + "/".join(rest)
        return paths.validate_writable(path) if writable else paths.validate(path)
    except InvalidInput as exc:
        raise _refuse(name, exc.detail) from None


class _Planner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.plan = Plan()
        self.seen: set[str] = set()
        self.files: set[str] = set()
        self.count = 0

    def add(self, member: Member) -> None:
        name = member.name
        if member.kind not in ("file", "dir"):
            raise _refuse(name, f"only files and directories may be imported, not a {member.kind}")
        if member.kind == "dir":
            name = name.removesuffix("/")
        if not name or name.startswith("/") or "\\" in name:
            raise _refuse(member.name, "names must be relative paths")
        parts = name.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise _refuse(member.name, "'.', '..' and empty segments are not allowed")
        if name in self.seen:
            raise _refuse(name, "the name appears twice")
        self.seen.add(name)
        self.count += 1
        if self.count > 4 * self.settings.max_entries_per_session:
            raise ArchiveInvalid("the archive has too many members")
        if member.kind == "file":
            self.files.add(name)
            if member.size > self.settings.max_file_bytes:
                raise _refuse(name, f"over the file size limit of {self.settings.max_file_bytes}")
        is_dir = member.kind == "dir"
        readonly = not (member.mode & 0o200)
        if parts[0] == "sessions" and len(parts) >= 2:
            self._session_member(member, name, parts, is_dir, readonly)
        elif parts[0] == "applets":
            self._applet_member(member, name, parts, is_dir)
        elif not (parts == ["sessions"] and is_dir):
            raise _refuse(name, "not part of the export layout (sessions/..., applets/...)")

    def _session(self, name: str, sid: str) -> _Session:
        try:
            parsed = str(parse_session_id(sid))
        except InvalidInput as exc:
            raise _refuse(name, exc.detail) from None
        return self.plan.sessions.setdefault(parsed, _Session())

    def _session_member(
        self, member: Member, name: str, parts: list[str], is_dir: bool, readonly: bool
    ) -> None:
        session = self._session(name, parts[1])
        rest = parts[2:]
        if not rest or (len(rest) == 1 and is_dir and rest[0] in _SESSION_PARTS):
            if not is_dir:
                raise _refuse(name, "not part of the export layout")
            return
        if rest == ["outputs.json"] and not is_dir:
            try:
                manifest = json.loads(member.read())
            except (ValueError, RecursionError):
                raise _refuse(name, "not valid JSON") from None
            if not isinstance(manifest, dict):
                raise _refuse(name, "must map output ids to metadata")
            for key, meta in manifest.items():
                try:
                    outlib.parse_output_id(key)
                    outlib.validate_metadata(meta)
                except SessionboxError as exc:
                    raise _refuse(name, f"{key}: {exc.detail}") from None
            session.manifest = manifest
            return
        kind = _SESSION_PARTS.get(rest[0])
        if kind is None:
            raise _refuse(name, "not part of the export layout")
        path = _vpath(name, rest[1:])
        if kind == "outputs" and (
            is_dir or not outlib.FILE_NAME.fullmatch(rest[-1]) or len(rest) != 2
        ):
            raise _refuse(name, "outputs are files named out_<n>.txt|json|b64")
        data = None if is_dir else member.read()
        if kind == "outputs" and data is not None:
            _check_output_data(name, data)
        session.files[kind][path] = (data, readonly)
        session.entries += 1
        session.size += len(data or b"")
        if session.size > self.settings.session_quota_bytes:
            raise ArchiveInvalid(
                f"session {parts[1]!r} would hold more than its quota of "
                f"{self.settings.session_quota_bytes} bytes"
            )
        if session.entries > self.settings.max_entries_per_session:
            raise ArchiveInvalid(f"session {parts[1]!r} has too many entries")

    def _applet_member(self, member: Member, name: str, parts: list[str], is_dir: bool) -> None:
        rest = parts[1:]
        if not rest:
            if not is_dir:
                raise _refuse(name, "not part of the export layout")
            return
        if rest == ["_index.json"] and not is_dir:
            member.read()  # regenerated on export; its content is not trusted
            return
        if not SLUG.fullmatch(rest[0]):
            raise _refuse(name, f"{rest[0]!r} is not an applet slug")
        path = _vpath(name, rest)
        data = None if is_dir else member.read()
        if data is not None and rest[1:] in (["meta.json"], ["state.json"]):
            try:
                value = json.loads(data)
            except (ValueError, RecursionError):
                raise _refuse(name, "not valid JSON") from None
            if not isinstance(value, dict) or (rest[1] == "meta.json" and "name" not in value):
                raise _refuse(name, "must be a JSON object (meta.json with a name)")
        self.plan.applets[path] = (data, False)
        self.plan.applet_size += len(data or b"")
        if self.plan.applet_size > self.settings.session_quota_bytes:
            raise ArchiveInvalid("the applets are over the quota")

    def finish(self) -> Plan:
        for name in self.files:  # a file may not stand where another member needs a directory
            prefix = name + "/"
            if any(other.startswith(prefix) for other in self.seen):
                raise _refuse(name, "is a file but other members lie below it")
        for sid, session in self.plan.sessions.items():
            outputs = {p.rsplit("/", 1)[1].split(".")[0] for p in session.files["outputs"]}
            manifest = session.manifest or {}
            if outputs != set(manifest):
                raise ArchiveInvalid(
                    f"session {sid!r}: outputs.json and outputs/ name different outputs"
                )
        slugs = {p.split("/")[1] for p in self.plan.applets}
        for slug in slugs:
            if VPath(f"/{slug}/meta.json") not in self.plan.applets:
                raise ArchiveInvalid(f"applet {slug!r} has no meta.json")
        return self.plan


def _check_output_data(name: str, data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _refuse(name, "output files hold UTF-8 text") from None
    if name.endswith(".b64"):
        try:
            base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _refuse(name, "not valid base64") from None


def plan_import(members: Iterable[Member], settings: Settings) -> Plan:
    """Validate every member of an archive (or directory) without writing anything."""
    planner = _Planner(settings)
    for member in members:
        planner.add(member)
    return planner.finish()


class TransferService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    # -- export ----------------------------------------------------------------

    def export_items(self, agent_id: str, session_id: str) -> list[OutItem]:
        """Everything of one session plus the agent's applets, in name order."""
        validate_agent_id(agent_id)
        sid = str(parse_session_id(session_id))
        base = f"sessions/{sid}"
        items: list[OutItem] = []
        manifest: dict[str, Any] = {}
        kinds: tuple[VolumeKind, ...] = ("files", "outputs", "snapshots")
        for kind in kinds:
            volume = VolumeKey(agent_id, sid, kind)
            for entry, held in self.store.view(volume, _all_entries):
                if paths.is_reserved(entry.path):
                    continue
                if kind == "outputs":
                    parsed = outlib.output_file(entry)
                    if parsed is None:
                        continue
                    manifest[f"out_{parsed[0]}"] = entry.meta
                items.append(self._item(volume, f"{base}/{kind}{entry.path}", entry, held))
        items.append(_bytes_item(f"{base}/outputs.json", dumps(manifest)))
        applets = VolumeKey(agent_id, None, "applets")
        index = []
        metas = self.store.view(applets, _applet_metas)
        for entry, held in self.store.view(applets, _all_entries):
            items.append(self._item(applets, f"applets{entry.path}", entry, held))
            if entry.path in metas:
                meta = metas[entry.path]
                slug = entry.path.split("/")[1]
                index.append(
                    {
                        "slug": slug,
                        "name": meta.get("name"),
                        "description": meta.get("description", ""),
                        "createdAt": meta.get("createdAt"),
                        "updatedAt": meta.get("updatedAt"),
                    }
                )
        items.append(
            _bytes_item("applets/_index.json", dumps(sorted(index, key=lambda a: a["slug"])))
        )
        return sorted(items, key=lambda item: item.name)

    def _item(self, volume: VolumeKey, name: str, entry: Entry, held: bytes | None) -> OutItem:
        """``held``: the bytes the listing brought along (a small file's), of that version."""
        if entry.is_directory:
            return OutItem(name, True)
        return OutItem(
            name,
            False,
            size=entry.size_bytes,
            readonly=entry.is_readonly,
            chunks=(
                (lambda: [held])
                if held is not None
                else lambda: self.store.read_chunks(volume, entry, 0, entry.size_bytes)
            ),
        )

    def export_tar(self, agent_id: str, session_id: str) -> Iterator[bytes]:
        """The session as a deterministic .tar.gz stream (checks the session first)."""
        items = self.export_items(agent_id, session_id)
        return write_tar_gz(items)

    # -- import ----------------------------------------------------------------

    def read_archive(self, source: BinaryIO) -> Plan:
        """Validate a .tar.gz completely; nothing is written."""
        s = self.settings
        cap = 2 * s.session_quota_bytes + 2048 * 4 * s.max_entries_per_session
        return plan_import(read_tar_gz(source, max_bytes=cap, max_ratio=s.import_max_ratio), s)

    def import_plan(
        self, agent_id: str, plan: Plan, *, session_id: str | None = None
    ) -> ImportReport:
        """Write a validated plan: all of it, or (on any failure) none of its sessions."""
        validate_agent_id(agent_id)
        if session_id is not None:
            if len(plan.sessions) != 1:
                raise ArchiveInvalid(
                    f"session_id renames one session; the archive holds {len(plan.sessions)}"
                )
            new = str(parse_session_id(session_id))
            plan.sessions = {new: next(iter(plan.sessions.values()))}
        targets: list[SessionId] = [parse_session_id(sid) for sid in plan.sessions]
        for sid in targets:
            try:
                self.store.get_session(agent_id, str(sid))
            except SessionNotFound:
                continue
            raise Exists(f"session {str(sid)!r} already exists; import it under another id")
        sessions = [NewSession(str(sid), sid.mode, sid.type) for sid in targets]
        results = self.store.create_sessions(agent_id, sessions, import_steps(agent_id, plan))
        added, skipped = results[-1] if plan.applets else ([], [])
        return ImportReport([s.id for s in sessions], added, skipped)


Step = tuple[VolumeKey, Callable[[VolumeWriter], Any]]


def import_steps(agent_id: str, plan: Plan) -> list[Step]:
    """The writes of an import, in order, for one store transaction (the applets last).

    One transaction is what makes an import whole after a crash: the sessions
    appear with everything in them or not at all.
    """
    steps: list[Step] = []
    for sid, session in plan.sessions.items():
        for kind, files in session.files.items():
            if files:
                write = functools.partial(_write_volume, files=files, kind=kind, mode="create")
                steps.append((VolumeKey(agent_id, sid, kind), write))
        finish = functools.partial(_finish_outputs, manifest=session.manifest or {})
        steps.append((VolumeKey(agent_id, sid, "outputs"), finish))
    if plan.applets:
        add = functools.partial(_write_applets, files=plan.applets)
        steps.append((VolumeKey(agent_id, None, "applets"), add))
    return steps


def _applet_metas(vol: VolumeReader) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for entry in vol.list(paths.ROOT, limit=1_000_000):
        path = VPath(f"{entry.path}/meta.json")
        with contextlib.suppress(NotFound, ValueError):
            found[path] = json.loads(vol.read(path, max_bytes=1 << 62)[1])
    return found


def _all_entries(vol: VolumeReader) -> builtins.list[tuple[Entry, bytes | None]]:
    return builtins.list(vol.walk(paths.ROOT, with_content=False))


def _bytes_item(name: str, data: bytes) -> OutItem:
    return OutItem(name, False, size=len(data), chunks=lambda: [data])


def _write_volume(
    vol: VolumeWriter,
    files: dict[VPath, tuple[bytes | None, bool]],
    kind: VolumeKind,
    mode: WriteMode,
) -> None:
    # An applet's meta.json goes last: an applet without one does not exist, so on a
    # directory store (where each file lands on disk at once) none shows half-written.
    for path in sorted(files, key=lambda p: (_is_applet_meta(p), p)):
        data, readonly = files[path]
        if data is None:
            vol.mkdir(path, exist_ok=True)
            continue
        content = Content.of(data)
        vol.write(
            path,
            content,
            mode=mode,
            readonly=readonly and kind == "files",
            content_type=guess_type(path, content),
        )


def _is_applet_meta(path: VPath) -> bool:
    return path.count("/") == 2 and path.endswith("/meta.json")


def _finish_outputs(vol: VolumeWriter, manifest: dict[str, Any]) -> None:
    highest = 0
    for entry in vol.list(paths.ROOT, limit=1_000_000):
        parsed = outlib.output_file(entry)
        if parsed is None:
            continue
        highest = max(highest, parsed[0])
        vol.set_attrs(entry.path, meta=manifest[f"out_{parsed[0]}"])
    outlib.set_next_id(vol, highest + 1)


def _write_applets(
    vol: VolumeWriter, files: dict[VPath, tuple[bytes | None, bool]]
) -> tuple[list[str], list[str]]:
    """Add the archive's applets; one the agent already has is kept, not overwritten.

    A slug without ``meta.json`` is no applet (what a crash can leave of one on a
    directory store), so it is written over.
    """
    slugs = sorted({p.split("/")[1] for p in files})
    added, skipped = [], []
    for slug in slugs:
        try:
            vol.stat(VPath(f"/{slug}/meta.json"))
        except (NotFound, AppletNotFound, NotADirectory):
            added.append(slug)
            continue
        skipped.append(slug)
    wanted = set(added)
    chosen = {p: v for p, v in files.items() if p.split("/")[1] in wanted}
    _write_volume(vol, chosen, "applets", "upsert")
    return added, skipped

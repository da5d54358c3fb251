"""Retention: prune old outputs and stale sessions, and collect unreferenced blobs.

Caco's open question 4 ("how long to keep outputs?") is answered by settings:
outputs older than ``retention_outputs_older_than`` (30 days by default) go,
expired sessions always go, idle sessions only when asked. Deleting a session
removes its outputs with it (the volumes cascade).

Garbage collection is mark and sweep in two phases: ``gc_mark`` stamps blobs no
entry references; ``gc_sweep`` deletes those stamped more than a grace period ago
and still unreferenced. A writer that reuses a stamped blob clears the stamp in
its own transaction (see ``SqlVolume._store_blob``), so GC is safe while writers run.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool

from sessionbox import paths
from sessionbox.config import Settings
from sessionbox.errors import InvalidInput, SessionboxError, SessionNotFound
from sessionbox.services.outputs import output_file
from sessionbox.store.base import Store, VolumeReader, VolumeWriter
from sessionbox.types import Entry, VolumeKey

log = logging.getLogger("sessionbox.retention")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PAGE = 500


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` (or a plain number of seconds)."""
    value = text.strip().lower()
    if value.isdigit():
        return timedelta(seconds=int(value))
    match = _DURATION.fullmatch(value)
    if match is None:
        raise InvalidInput(f"{text!r} is not a duration like 30d, 12h, 90m or 45s")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(slots=True)
class PruneReport:
    dry_run: bool
    sessions_deleted: list[str] = field(default_factory=list)
    outputs_deleted: int = 0
    output_bytes: int = 0


@dataclass(frozen=True, slots=True)
class GcReport:
    marked: int
    removed: int
    bytes_freed: int


def _old_outputs(vol: VolumeReader, cutoff: datetime) -> list[Entry]:
    return [
        entry
        for entry in vol.list(paths.ROOT, limit=1_000_000)
        if output_file(entry) is not None and entry.created_at < cutoff
    ]


class RetentionService:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def prune(
        self,
        *,
        outputs_older_than: timedelta | None = None,
        sessions_idle_for: timedelta | None = None,
        dry_run: bool = False,
    ) -> PruneReport:
        """Delete expired (and, if asked, idle) sessions, then outputs past their age."""
        now = datetime.now(UTC)
        report = PruneReport(dry_run=dry_run)
        idle_before = now - sessions_idle_for if sessions_idle_for is not None else None
        after: tuple[str, str] | None = None
        while True:
            stale = self.store.stale_sessions(idle_before=idle_before, limit=_PAGE, after=after)
            for record in stale:
                if dry_run or self.store.delete_stale_session(
                    record.agent_id, record.id, idle_before=idle_before
                ):
                    report.sessions_deleted.append(f"{record.agent_id}/{record.id}")
            if len(stale) < _PAGE:
                break
            after = (stale[-1].agent_id, stale[-1].id)
        if outputs_older_than is not None:
            self._prune_outputs(now - outputs_older_than, report)
        return report

    def _prune_outputs(self, cutoff: datetime, report: PruneReport) -> None:
        agent_after: str | None = None
        while True:
            agents = self.store.list_agents(limit=_PAGE, after=agent_after)
            for agent_id in agents:
                session_after: str | None = None
                while True:
                    sessions = self.store.list_sessions(agent_id, limit=_PAGE, after=session_after)
                    for record in sessions:
                        self._prune_session(
                            VolumeKey(agent_id, record.id, "outputs"), cutoff, report
                        )
                    if len(sessions) < _PAGE:
                        break
                    session_after = sessions[-1].id
            if len(agents) < _PAGE:
                return
            agent_after = agents[-1]

    def _prune_session(self, volume: VolumeKey, cutoff: datetime, report: PruneReport) -> None:
        try:
            # Look first without the write lock: most sessions have nothing to prune.
            old = self.store.view(volume, lambda vol: _old_outputs(vol, cutoff))
            if not old:
                return
            if not report.dry_run:

                def run(vol: VolumeWriter) -> list[Entry]:
                    found = _old_outputs(vol, cutoff)
                    for entry in found:
                        vol.delete(entry.path)
                    return found

                old = self.store.update(volume, run)
        except SessionNotFound:  # deleted meanwhile
            return
        report.outputs_deleted += len(old)
        report.output_bytes += sum(e.size_bytes for e in old)

    def gc(self, *, grace: timedelta | None = None) -> GcReport:
        """Mark unreferenced blobs, then sweep those marked more than ``grace`` ago."""
        grace = timedelta(seconds=self.settings.gc_grace_seconds) if grace is None else grace
        marked = self.store.gc_mark()
        removed, freed = self.store.gc_sweep(datetime.now(UTC) - grace)
        return GcReport(marked=marked, removed=removed, bytes_freed=freed)

    async def clear_dead_dirs(self) -> None:
        """At start-up: remove what a crash left of sessions that never were (or no longer
        are), such as an interrupted import's directories. A store away is only logged."""
        try:
            removed = await run_in_threadpool(self.store.clear_dead_dirs)
        except SessionboxError as exc:
            log.warning("clearing dead session directories failed: %s", exc)
            return
        if removed:
            log.info("removed the directories of %d dead session(s)", removed)

    def scheduled(self) -> tuple[PruneReport, GcReport]:
        """One round of what the server runs on its schedule."""
        s = self.settings
        report = self.prune(
            outputs_older_than=(
                parse_duration(s.retention_outputs_older_than)
                if s.retention_outputs_older_than
                else None
            ),
            sessions_idle_for=(
                parse_duration(s.retention_sessions_idle_for)
                if s.retention_sessions_idle_for
                else None
            ),
        )
        return report, self.gc()


async def run_periodically(service: RetentionService, settings: Settings) -> None:
    """The server's background task: a round every ``retention_interval_seconds``."""
    interval = settings.retention_interval_seconds
    if interval <= 0:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            prune, gc = await run_in_threadpool(service.scheduled)
        except SessionboxError as exc:  # the store was away: try again next round
            log.warning("scheduled retention failed: %s", exc)
            continue
        except Exception:  # never let one bad round end the schedule
            log.exception("scheduled retention failed")
            continue
        log.info(
            "retention: %d session(s), %d output(s) pruned; %d blob(s) collected",
            len(prune.sessions_deleted),
            prune.outputs_deleted,
            gc.removed,
        )

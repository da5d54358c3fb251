"""Where a store keeps its volumes' bytes: an object the store is given when it is made.

``Homes`` (the default) keeps every volume in the database's rows. ``Directories``
keeps some volumes as plain host directories, with all that takes: the volume's
lock, its undo journal, recovery of an update a dead process left, making and
removing session directories. Two layouts say which volumes and where:

    DirTree(root)            dir:///root: every volume, root/agents/<agent>/...
    UnsafeScopes(scopes_dir) the files of unsafe sessions, scopes_dir/<agent>/<session>

The SQL store (``_sqlstore.py``) asks its homes where a volume lives and hands the
work on; it knows nothing of locks or journals, as httpx's client knows nothing
of sockets (its transport does).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sessionbox.errors import SessionboxError
from sessionbox.ids import parse_session_id, validate_agent_id
from sessionbox.store import _dirjournal, _invariants, _safefs
from sessionbox.store._dialect import Dialect
from sessionbox.store._dirmeta import DirMeta
from sessionbox.store._dirread import Place
from sessionbox.store._dirvolume import DirVolume
from sessionbox.types import SESSION_VOLUMES, Limits, Usage, VolumeKey

T = TypeVar("T")
log = logging.getLogger(__name__)
Committed = Callable[[str], bool]
"""Whether the update logged under a journal's token reached the database."""
Journals = dict[Place, _dirjournal.Journal]


class Homes:
    """Every volume in the database's rows: no host directory to keep in step."""

    def place(self, volume: VolumeKey) -> Place | None:
        """The directory of a directory-backed volume; None for a volume kept in SQL."""
        return None

    def in_sql(self, volume: VolumeKey) -> bool:
        """Whether ``volume`` and every volume counting towards its quota are kept in SQL
        (so a read or a small create may take one statement), decided without paths."""
        return True

    def scope_dir(self, agent_id: str, session_id: str) -> Path | None:
        """The host directory of a session's ``files`` volume, when it is one."""
        return None

    def make_session(self, agent_id: str, session_id: str) -> None:
        """Make a new session's directories (a native tool may start in them at once)."""

    def forget_session(self, agent_id: str, session_id: str) -> None:
        """Remove a deleted session's directories, journals and locks."""

    def forget_agent(self, agent_id: str) -> None:
        """Remove a deleted agent's directories."""

    def session_dirs(self) -> dict[str, list[str]]:
        """Session directories on disk by agent (a crash may leave some without a row)."""
        return {}

    def check(self, conn: Any, dialect: Dialect, agent_id: str | None) -> list[str]:
        """Violations of what must hold between the catalog and the directories."""
        return []

    # The store asks these only for a volume ``place`` put in a directory; here none is.

    def volume(
        self,
        conn: Any,
        dialect: Dialect,
        volume_id: int,
        volume: VolumeKey,
        place: Place,
        usage: Usage,
        *,
        limits: Limits | None = None,
        journal: _dirjournal.Journal | None = None,
    ) -> DirVolume:
        raise NotImplementedError("every volume is kept in SQL rows here")

    def read(
        self,
        place: Place,
        read_tx: Callable[[Callable[[Any], T]], T],
        run: Callable[[Any], T],
        committed: Committed,
    ) -> T:
        raise NotImplementedError("every volume is kept in SQL rows here")

    def write(
        self,
        places: set[Place],
        write_tx: Callable[[Callable[[Any], T]], T],
        run: Callable[[Any, Journals], T],
        committed: Committed,
    ) -> T:
        raise NotImplementedError("every volume is kept in SQL rows here")


class Directories(Homes):
    """Volumes kept as host directories; a layout (subclass) says which and where.

    A directory volume is read under its shared lock and changed under its
    exclusive one; every change is logged first in the update's undo journal, and
    the journal's token is committed with the database transaction, so an update
    is whole on disk too, even across a crash (``_dirjournal``). The store asks for
    ``volume``, ``read`` and ``write`` only for volumes that ``place`` puts in a
    directory; a volume in SQL rows is the store's own business.
    """

    def session_dir(self, agent_id: str, session_id: str) -> Place | None:
        """The one directory holding all of a session's directory-backed volumes."""
        raise NotImplementedError

    def agent_dir(self, agent_id: str) -> Place:
        raise NotImplementedError

    def _session_dirs_at(self) -> tuple[Path, tuple[str, ...]]:
        """Where the session directories are: below ``top/<agent>/<below...>``."""
        raise NotImplementedError

    def _is_session_dir(self, session_id: str) -> bool:
        return True

    # -- the directories of sessions and agents ---------------------------------------

    def owner_places(self, volume: VolumeKey) -> dict[str, Place]:
        """Every directory-backed volume whose bytes count towards ``volume``'s quota."""
        kinds = SESSION_VOLUMES if volume.session_id is not None else (volume.kind,)
        found = {k: self.place(VolumeKey(volume.agent_id, volume.session_id, k)) for k in kinds}
        return {kind: place for kind, place in found.items() if place is not None}

    def scope_dir(self, agent_id: str, session_id: str) -> Path | None:
        place = self.place(VolumeKey(agent_id, session_id, "files"))
        return place[0].joinpath(*place[1]) if place else None

    def make_session(self, agent_id: str, session_id: str) -> None:
        for base, parts in self.owner_places(VolumeKey(agent_id, session_id, "files")).values():
            with _safefs.os_errors(f"the directory of session {session_id}"):
                fd = _safefs.open_root(base, parts, create=True)
                if fd is not None:
                    os.close(fd)
                lock = _safefs.volume_lock_file(base, parts)  # made now, not on first read
                lock.parent.mkdir(exist_ok=True)
                lock.touch()
                _dirjournal.journal_dir(base, parts).mkdir(parents=True, exist_ok=True)

    def forget_session(self, agent_id: str, session_id: str) -> None:
        place = self.session_dir(agent_id, session_id)
        if place is None:
            return
        with _safefs.os_errors(f"the directory of session {session_id}"):
            _safefs.remove_under(*place)
            for volume_place in self.owner_places(
                VolumeKey(agent_id, session_id, "files")
            ).values():
                _dirjournal.forget(*volume_place)
                _safefs.forget_volume_lock(*volume_place)

    def forget_agent(self, agent_id: str) -> None:
        with _safefs.os_errors(f"the directories of agent {agent_id}"):
            _safefs.remove_under(*self.agent_dir(agent_id))

    def session_dirs(self) -> dict[str, list[str]]:
        """Real directories (not links) with valid names only."""
        top, below = self._session_dirs_at()
        found: dict[str, list[str]] = {}
        with _safefs.os_errors("the session directories"):
            for agent in _subdirs(top):
                with contextlib.suppress(SessionboxError):
                    validate_agent_id(agent)
                    ids = [
                        sid
                        for sid in _subdirs(top.joinpath(agent, *below))
                        if _is_session_id(sid) and self._is_session_dir(sid)
                    ]
                    if ids:
                        found[agent] = ids
        return found

    # -- reading and changing a volume --------------------------------------------------

    def volume(
        self,
        conn: Any,
        dialect: Dialect,
        volume_id: int,
        volume: VolumeKey,
        place: Place,
        usage: Usage,
        *,
        limits: Limits | None = None,
        journal: _dirjournal.Journal | None = None,
    ) -> DirVolume:
        """``volume`` (at ``place``) inside the store's transaction on ``conn``; ``usage``:
        the store's counters of the owner's volumes kept in SQL (the disk is counted on
        top). A writer gets the limits and the update's journal."""
        disk = DirVolume(
            DirMeta(conn, dialect, volume_id),
            place,
            kind=volume.kind,
            usage=usage,
            owner_places=self.owner_places(volume),
            limits=limits,
        )
        disk.journal = journal
        return disk

    def read(
        self,
        place: Place,
        read_tx: Callable[[Callable[[Any], T]], T],
        run: Callable[[Any], T],
        committed: Committed,
    ) -> T:
        """``run`` in a read transaction (``read_tx``) under ``place``'s shared lock; an
        update a dead process left is settled first, under the exclusive one."""
        with _safefs.volume_lock(*place, shared=True):
            if not _dirjournal.pending(*place):
                return read_tx(run)
        with _safefs.volume_lock(*place, shared=False):
            self._recover(place, committed)
            return read_tx(run)

    def write(
        self,
        places: set[Place],
        write_tx: Callable[[Callable[[Any], T]], T],
        run: Callable[[Any, Journals], T],
        committed: Committed,
    ) -> T:
        """``run`` in one database write transaction (``write_tx``), with an undo journal
        for each of ``places``, so their disk changes commit or roll back with it.

        Their locks are taken before the database's write lock, in one order (no two
        writers deadlock), and held past the commit, so readers never see the disk and
        the sidecar disagree; every path takes them first.
        """
        journals = {place: _dirjournal.Journal(*place) for place in places}

        def attempt(conn: Any) -> T:
            with _safefs.os_errors("the volume's undo journal"):
                for journal in journals.values():
                    journal.rollback()  # a retried attempt starts from the disk as it was
            return run(conn, journals)

        with contextlib.ExitStack() as locks:
            for place in sorted(places, key=repr):
                locks.enter_context(_safefs.volume_lock(*place, shared=False))
                self._recover(place, committed)
            try:
                result = write_tx(attempt)
            except BaseException:
                for place, journal in journals.items():
                    # A failed import has already removed its new sessions' volumes.
                    if _dirjournal.journal_dir(*place).is_dir():
                        _settle_failed(journal, committed)
                raise
            # After the database commit: a crash before this line undoes the disk.
            with _safefs.os_errors("the volume's undo journal"):
                for journal in journals.values():
                    journal.commit()
        return result

    def _recover(self, place: Place, committed: Committed) -> None:
        """Settle an update of ``place`` that a dead process left (its lock held)."""
        with _safefs.os_errors("the volume's undo journal"):
            outcome = _dirjournal.Journal(*place).recover(committed)
        if outcome is not None:
            log.warning("an interrupted update of %s was %s", "/".join(place[1]), outcome)


class DirTree(Directories):
    """``dir:///root``: every volume a directory, the catalog a SQLite file beside them::

    <root>/catalog.db
    <root>/agents/<agent>/sessions/<session>/{files,outputs,snapshots}/...
    <root>/agents/<agent>/applets/...
    """

    CATALOG = "catalog.db"

    def __init__(self, root: Path) -> None:
        self.root = root

    def place(self, volume: VolumeKey) -> Place | None:
        a, s = volume.agent_id, volume.session_id
        if s is None:
            return self.root, ("agents", a, volume.kind)
        return self.root, ("agents", a, "sessions", s, volume.kind)

    def in_sql(self, volume: VolumeKey) -> bool:
        return False

    def session_dir(self, agent_id: str, session_id: str) -> Place | None:
        return self.root, ("agents", agent_id, "sessions", session_id)

    def agent_dir(self, agent_id: str) -> Place:
        return self.root, ("agents", agent_id)

    def _session_dirs_at(self) -> tuple[Path, tuple[str, ...]]:
        return self.root / "agents", ("sessions",)

    def check(self, conn: Any, dialect: Dialect, agent_id: str | None) -> list[str]:
        return _invariants.check_dirs(conn, dialect, agent_id, self.root)


class UnsafeScopes(Directories):
    """The ``files`` of each unsafe session in ``scopes_dir/<agent>/<session>``, where
    the agent's native tools work on them; every other volume stays in SQL rows."""

    def __init__(self, scopes_dir: Path) -> None:
        self.scopes_dir = scopes_dir

    def place(self, volume: VolumeKey) -> Place | None:
        if volume.kind == "files" and is_unsafe(volume.session_id):
            return self.scopes_dir, (volume.agent_id, str(volume.session_id))
        return None

    def in_sql(self, volume: VolumeKey) -> bool:
        return not is_unsafe(volume.session_id)

    def session_dir(self, agent_id: str, session_id: str) -> Place | None:
        return self.place(VolumeKey(agent_id, session_id, "files"))

    def agent_dir(self, agent_id: str) -> Place:
        return self.scopes_dir, (agent_id,)

    def _session_dirs_at(self) -> tuple[Path, tuple[str, ...]]:
        return self.scopes_dir, ()

    def _is_session_dir(self, session_id: str) -> bool:
        return is_unsafe(session_id)


def is_unsafe(session_id: str | None) -> bool:
    """Decided from the (already validated) id alone, like every mode check."""
    return session_id is not None and session_id.startswith("unsafe_")


def _settle_failed(journal: _dirjournal.Journal, committed: Committed) -> None:
    """Undo a failed update on disk, unless its commit went through after all.

    A COMMIT whose answer was lost (a dropped connection) may have committed.
    """
    if not journal.active:
        return
    try:
        done = committed(journal.token)
    except Exception:
        journal.abandon()  # the next access to the volume settles it
        return
    with _safefs.os_errors("the volume's undo journal"):
        if done:
            journal.commit()
        else:
            journal.rollback()


def _subdirs(path: Path) -> list[str]:
    """Names of the real directories (not links) in ``path``; none if it is missing."""
    try:
        with os.scandir(path) as found:
            return [e.name for e in found if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []


def _is_session_id(text: str) -> bool:
    try:
        return str(parse_session_id(text)) == text
    except SessionboxError:
        return False

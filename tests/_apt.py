"""Debian tools the tests drive (litmus, rclone, wrk), installed by the tests themselves.

As the project promises, a test set-up installs what it needs: when the program is missing,
``apt-get`` installs its package. xdist workers may get here at the same moment on a fresh
machine; the first installs under a file lock while the others wait (two apt-gets at once
fail on dpkg's lock).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def ensure(program: str, package: str | None = None) -> Path:
    """The path of ``program``, installing Debian's ``package`` (default: same name) first
    when it is missing."""
    found = shutil.which(program)
    if found:
        return Path(found)
    lock_path = Path(tempfile.gettempdir()) / "sessionbox-apt-install.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = shutil.which(program)
        if found:
            return Path(found)
        apt = shutil.which("apt-get")
        if apt is None:
            raise RuntimeError(f"no {program} and no apt-get to install it")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt (not ours) may hold dpkg
        install = [*sudo, apt, *wait, "install", "-y", "--no-install-recommends"]
        if subprocess.run([*install, package or program], env=env, check=False).returncode:
            # The package lists may be missing or stale on a fresh machine.
            subprocess.run([*sudo, apt, *wait, "update"], check=True, env=env)
            subprocess.run([*install, package or program], check=True, env=env)
    found = shutil.which(program)
    if found is None:
        raise RuntimeError(f"apt-get installed {package or program} but {program} is missing")
    return Path(found)

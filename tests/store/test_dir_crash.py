"""Atomic writes on a directory volume: a writer killed with SIGKILL leaves old or new content."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import sessionbox
from sessionbox.store import _safefs

CHILD_MIDWAY = textwrap.dedent(
    """
    import os, sys, time
    from sessionbox.store import _safefs

    fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)

    def pieces():
        yield b"N" * 1_000_000
        print("midway", flush=True)
        time.sleep(600)
        yield b"N"

    _safefs.atomic_write(fd, "target", pieces(), readonly=False)
    """
)

CHILD_LOOP = textwrap.dedent(
    """
    import sys
    import sessionbox

    box = sessionbox.open(sys.argv[1])
    fs = box.session("agent", "safe_named_crash").files
    for i in range(1, 100_000):
        fs.write("/f.bin", bytes([i % 251]) * (512 * 1024 + i))
        print(i, flush=True)
    """
)


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )


def test_a_writer_killed_midway_leaves_the_old_content(tmp_path: Path) -> None:
    (tmp_path / "target").write_bytes(b"old content")
    child = _child(CHILD_MIDWAY, str(tmp_path))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "midway"
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert (tmp_path / "target").read_bytes() == b"old content"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "target"]
    assert len(leftovers) == 1 and leftovers[0].startswith(_safefs.TMP_PREFIX)


def test_a_store_writer_killed_at_any_moment_leaves_a_whole_version(tmp_path: Path) -> None:
    url = f"dir:///{tmp_path / 'store'}"
    with sessionbox.open(url) as box:
        box.create_session("agent", "safe_named_crash")
        box.session("agent", "safe_named_crash").files.write("/f.bin", b"\x00" * 10)
    child = _child(CHILD_LOOP, url)
    assert child.stdout is not None
    committed = [int(child.stdout.readline()) for _ in range(5)]
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    assert committed == [1, 2, 3, 4, 5]
    with sessionbox.open(url) as box:
        fs = box.session("agent", "safe_named_crash").files
        data = fs.read("/f.bin")
        version = len(data) - 512 * 1024
        assert version >= 5 and data == bytes([version % 251]) * len(data)
        assert [e.name for e in fs.list("/")] == ["f.bin"]  # a torn temp file stays hidden
        assert fs.get_info("/f.bin").size_bytes == len(data)

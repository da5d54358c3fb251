"""Runs each atheris target for a bounded time (``SESSIONBOX_FUZZ_SECONDS``, default 5).

A target fails on a crash or a broken property; libFuzzer then writes the
input that did it as ``crash-*`` into the test's directory, printed below.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import env_int

SECONDS = env_int("SESSIONBOX_FUZZ_SECONDS", 5)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("target", ["fuzz_paths", "fuzz_ids", "fuzz_archive"])
def test_fuzz_target_finds_nothing(target: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            f"tests.fuzz.{target}",
            f"-max_total_time={SECONDS}",
            "-rss_limit_mb=1024",
            f"-artifact_prefix={tmp_path}/",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SECONDS + 120,
    )
    done = re.search(r"Done (\d+) runs", run.stderr)
    print(f"\n{target}: {done.group(1) if done else '?'} inputs in {SECONDS}s")
    assert run.returncode == 0, run.stderr[-4000:]
    assert done is not None and int(done.group(1)) > 0, run.stderr[-2000:]


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", b"/" * 50, b"\x01/./..%2e%2E", "/é/\u0301".encode(), b"\xff" * 300],
)
def test_fuzz_checks_hold_on_a_fixed_corpus(data: bytes) -> None:
    from tests.fuzz import fuzz_archive, fuzz_ids, fuzz_paths

    fuzz_paths.check(data)
    fuzz_ids.check(data)
    fuzz_archive.check(data)

"""Directory volumes vs SQLite: small-file writes and reads through the in-process library.

    .venv/bin/python bench/dirstore.py [--n 500] [--prefill 10000]

Prints ops/s for 1 KiB writes and reads on: a SQLite store (safe session), the
files volume of an unsafe session (a scope dir), and a ``dir:///`` store; then
the write rate in a scope dir that already holds ``--prefill`` files, which
shows the cost of counting the disk for the quota on every write.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import sessionbox
from sessionbox.config import Settings


def _rate(n: int, fn: object) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)  # type: ignore[operator]
    return n / (time.perf_counter() - start)


def run(n: int, prefill: int) -> None:
    payload = b"x" * 1024
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "sqlite (safe session)": (f"sqlite:///{tmp}/s.db", "safe_named_bench"),
            "sqlite + unsafe scope dir": (f"sqlite:///{tmp}/u.db", "unsafe_named_bench"),
            "dir:/// store": (f"dir:///{tmp}/d", "safe_named_bench"),
        }
        for label, (url, sid) in cases.items():
            settings = Settings(data_dir=Path(tmp) / label.split()[0], store=url)
            with sessionbox.open(settings=settings) as box:
                box.create_session("bench", sid)
                fs = box.session("bench", sid).files
                w = _rate(n, lambda i: fs.write(f"/d{i % 20}/f{i}.txt", payload))
                r = _rate(n, lambda i: fs.read(f"/d{i % 20}/f{i}.txt"))
                print(f"{label:28s} write {w:8.0f}/s   read {r:8.0f}/s")
        settings = Settings(data_dir=Path(tmp) / "big", max_entries_per_session=prefill + n + 100)
        with sessionbox.open(settings=settings) as box:
            box.create_session("bench", "unsafe_named_big")
            scope = box.store.scope_dir("bench", "unsafe_named_big")
            assert scope is not None
            for i in range(prefill):
                sub = scope / f"p{i % 100}"
                sub.mkdir(exist_ok=True)
                (sub / f"f{i}").write_bytes(payload)
            fs = box.session("bench", "unsafe_named_big").files
            w = _rate(min(n, 100), lambda i: fs.write(f"/new{i}", payload))
            print(f"{'scope dir with ' + str(prefill) + ' files':28s} write {w:8.0f}/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--prefill", type=int, default=10_000)
    args = parser.parse_args()
    run(args.n, args.prefill)

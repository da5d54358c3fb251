"""In-process create/read p50 next to raw sqlite3, interleaved in one process.

Usage: .venv/bin/python bench/micro_create_read.py [N] [profile]
With a second argument it prints a pyinstrument profile of sessionbox instead.
"""

import sys
import tempfile
import time
from pathlib import Path

from sessionbox.bench.inprocess import InProcess
from sessionbox.bench.rawdb import RawSqlite

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
prof = sys.argv[2] if len(sys.argv) > 2 else ""
d = Path(tempfile.mkdtemp())
sb = InProcess("sb", f"sqlite:///{d}/sb.db", d)
raw = RawSqlite()
data = b"x" * 1024


def run(c, tag):
    out = {}
    for op in ("create", "read"):
        lat = []
        for i in range(N):
            p = f"/{tag}/d{i % 100}/f{i}.txt"
            t = time.perf_counter()
            if op == "create":
                c.create(p, data)
            else:
                c.read(p)
            lat.append(time.perf_counter() - t)
        lat.sort()
        out[op] = lat[len(lat) // 2] * 1e6
    return out


if prof:
    from pyinstrument import Profiler

    p = Profiler(interval=0.0001)
    p.start()
    run(sb, "p")
    p.stop()
    print(p.output_text(unicode=False, color=False, show_all=False)[:8000])
else:
    for rep in range(2):
        r = run(raw, f"r{rep}")
        s = run(sb, f"s{rep}")
        print({k: (round(r[k], 1), round(s[k], 1), round(r[k] / s[k], 2)) for k in r})

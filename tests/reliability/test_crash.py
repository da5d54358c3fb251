"""kill -9 a real ``sessionbox serve`` under writes, restart it, and check nothing was lost.

Every kill: several client threads write (create, overwrite incl. multi-chunk
files, move a file, move a tree, delete) and journal each acknowledged answer;
the server is SIGKILLed at a random moment; the store is reopened and audited
(``check_invariants``); the server restarts and each writer's files must be
exactly its acknowledged state, or that state plus its one in-doubt request
applied whole. ``SESSIONBOX_CRASH_KILLS`` sets the kills per store (default 5;
the full run uses 50).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from pathlib import Path

import httpx

from tests.reliability._journal import Writer, drive, observe, verify
from tests.reliability._server import ServerProcess
from tests.reliability.conftest import assert_invariants, env_int

KILLS = env_int("SESSIONBOX_CRASH_KILLS", 5)
WRITERS = 4


def test_kill_9_loses_no_acknowledged_write(server_store_url: str, tmp_path: Path) -> None:
    seed = env_int("SESSIONBOX_CRASH_SEED", secrets.randbits(32))
    rng = random.Random(seed)
    agent = f"crash-{secrets.token_hex(4)}"
    server = ServerProcess(server_store_url, tmp_path / "data").start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            created = client.post(f"/v1/agents/{agent}/sessions", json={})
            assert created.status_code == 201, created.text
        base = f"/v1/agents/{agent}/sessions/{created.json()['id']}/fs"
        writers = [Writer(base, f"/w{i}", random.Random(rng.random())) for i in range(WRITERS)]
        survived = 0
        for kill in range(KILLS):
            stop = threading.Event()
            clients = [httpx.Client(base_url=server.url, timeout=30) for _ in writers]
            threads = [
                threading.Thread(target=drive, args=(w, c, stop), daemon=True)
                for w, c in zip(writers, clients, strict=True)
            ]
            for thread in threads:
                thread.start()
            time.sleep(rng.uniform(0.2, 1.5))
            server.kill()
            stop.set()
            for thread in threads:
                thread.join(60)
            for c in clients:
                c.close()
            for w in writers:
                assert w.failures == [], f"seed {seed}, kill {kill}: {w.failures}"
            assert_invariants(server_store_url, tmp_path / "data", agent)
            server.start()
            survived += 1
            with httpx.Client(base_url=server.url, timeout=30) as client:
                for w in writers:
                    problem = verify(w, observe(client, base, w.prefix))
                    assert problem is None, f"seed {seed}, kill {kill}:\n{problem}"
        acknowledged = sum(w.acknowledged for w in writers)
        applied = sum(w.doubts["applied"] for w in writers)
        dropped = sum(w.doubts["dropped"] for w in writers)
        print(
            f"\ncrash {server_store_url.split(':')[0]}: kills survived={survived} "
            f"acknowledged writes verified={acknowledged} "
            f"in-doubt requests committed={applied} rolled back={dropped}"
        )
        assert acknowledged > 0, "no write was acknowledged: the harness tested nothing"
    finally:
        server.stop()

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

from tests.conftest import http_client
from tests.reliability._journal import Writer, drive, observe
from tests.reliability._server import ServerProcess
from tests.reliability._sidecheck import settle
from tests.reliability.conftest import assert_invariants, env_int

KILLS = env_int("SESSIONBOX_CRASH_KILLS", 5)
WRITERS = 4


def test_kill_9_loses_no_acknowledged_write(server_store_url: str, tmp_path: Path) -> None:
    seed = env_int("SESSIONBOX_CRASH_SEED", secrets.randbits(32))
    rng = random.Random(seed)
    agent = f"crash-{secrets.token_hex(4)}"
    server = ServerProcess(server_store_url, tmp_path / "data").start()
    try:
        with http_client(server.url, timeout=30) as client:
            created = client.post(f"/v1/agents/{agent}/sessions", json={})
            assert created.status_code == 201, created.text
            base = f"/v1/agents/{agent}/sessions/{created.json()['id']}/fs"
            archive, template = _template(client, agent, rng)
            writers = []
            for i in range(WRITERS):
                own = client.post(f"/v1/agents/{agent}/sessions", json={})
                assert own.status_code == 201, own.text
                side = f"/v1/agents/{agent}/sessions/{own.json()['id']}"
                w = Writer(base, f"/w{i}", random.Random(rng.random()), side=side, archive=archive)
                writers.append(w)
        survived = 0
        for kill in range(KILLS):
            stop = threading.Event()
            clients = [http_client(server.url, timeout=30) for _ in writers]
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
            with http_client(server.url, timeout=30) as client:
                for w in writers:
                    problem = settle(w, client, template)
                    assert problem is None, f"seed {seed}, kill {kill}:\n{problem}"
        acknowledged = sum(w.acknowledged for w in writers)
        applied = sum(w.doubts["applied"] for w in writers)
        dropped = sum(w.doubts["dropped"] for w in writers)
        kept = {
            "snapshots": sum(len(w.snapshots) for w in writers),
            "outputs": sum(len(w.outputs) for w in writers),
            "imports": sum(len(w.imports) for w in writers),
        }
        print(
            f"\ncrash {server_store_url.split(':')[0]}: kills survived={survived} "
            f"acknowledged writes verified={acknowledged} {kept} "
            f"in-doubt requests committed={applied} rolled back={dropped} "
            f"torn imports={sum(len(w.torn_imports) for w in writers)}"
        )
        assert acknowledged > 0, "no write was acknowledged: the harness tested nothing"
        torn = [t for w in writers for t in w.torn_imports]
        assert torn == [], f"seed {seed}: interrupted imports left partial sessions {torn}"
    finally:
        server.stop()


def _template(
    client: httpx.Client, agent: str, rng: random.Random
) -> tuple[bytes, dict[str, bytes]]:
    """An exported session (files, one multi-chunk; a snapshot; an output) to import again."""
    created = client.post(f"/v1/agents/{agent}/sessions", json={})
    assert created.status_code == 201, created.text
    session = f"/v1/agents/{agent}/sessions/{created.json()['id']}"
    octet = {"content-type": "application/octet-stream"}
    for i, size in enumerate((10, 3000, 1_300_000)):
        put = client.put(f"{session}/fs/t/f{i}.bin", content=rng.randbytes(size), headers=octet)
        assert put.status_code == 201, put.text
    envelope = {"version": 1, "updatedAt": 1, "snapshot": {"template": True}}
    assert client.put(f"{session}/snapshot", json=envelope).status_code == 200
    output = {"data": "template output", "metadata": {"type": "raw"}}
    assert client.post(f"{session}/outputs", json=output).status_code == 201
    exported = client.get(f"{session}/export")
    assert exported.status_code == 200, exported.text
    return exported.content, observe(client, f"{session}/fs", "/")

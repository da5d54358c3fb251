"""The first writes to an agent's own volume (applets) may come at once.

Regression: on PostgreSQL two first writers both found no volume row, both
inserted one, and the loser answered 409 ``exists (volumes_agent_kind)``; the
crash harness met it as a failed import.
"""

from __future__ import annotations

import threading

from sessionbox.content import Content
from sessionbox.paths import VPath
from sessionbox.store.base import Store, VolumeWriter
from sessionbox.types import VolumeKey

WRITERS = 8


def test_concurrent_first_writers_of_an_agent_volume_all_succeed(store: Store, agent: str) -> None:
    volume = VolumeKey(agent, None, "applets")
    start = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        def run(writer: VolumeWriter) -> None:
            writer.write(VPath(f"/w{n}"), Content.of(b"%d" % n), mode="create")

        start.wait()
        try:
            store.update(volume, run)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    names = store.view(volume, lambda v: [e.name for e in v.list(VPath("/"), limit=100)])
    assert sorted(names) == sorted(f"w{n}" for n in range(WRITERS))
    assert store.check_invariants(agent) == []

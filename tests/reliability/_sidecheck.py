"""After a crash: a writer's snapshots, outputs and imports are exactly what was acknowledged.

Each writer owns one session for snapshots and outputs, so its acknowledged
state is exact; the one request in flight at the kill may or may not have
taken effect, but only whole. Imports create sessions named by the writer; an
acknowledged one must hold the whole exported session, an in-doubt one must be
absent or whole (import is all-or-nothing).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.reliability._journal import Writer, observe, verify

SNAPSHOT_HISTORY = 3  # ``Settings.snapshot_history``, the server's default


def settle(w: Writer, client: httpx.Client, template: dict[str, bytes]) -> str | None:
    """Check everything ``w`` owns after a restart, then take what survived as acknowledged."""
    doubt = w.in_doubt
    side_applied: bool | None = None
    for check in (_snapshots, _outputs, _imports):
        problem, applied = check(w, client, template)
        if problem is not None:
            return f"{w.prefix}: {problem}"
        if applied is not None:
            side_applied = applied
    problem = verify(w, observe(client, w.base, w.prefix))
    if problem is None and doubt is not None and side_applied:
        w.doubts["dropped"] -= 1  # ``verify`` only sees files
        w.doubts["applied"] += 1
    return problem


def _snapshots(
    w: Writer, client: httpx.Client, template: dict[str, bytes]
) -> tuple[str | None, bool | None]:
    if not w.side:
        return None, None
    doubt = w.in_doubt.snapshot if w.in_doubt is not None else None
    latest = client.get(f"{w.side}/snapshot")
    actual: dict[str, Any] | None
    if latest.status_code == 404:
        actual = None
    elif latest.status_code == 200:
        actual = _envelope(latest.content)
    else:
        return f"GET snapshot -> {latest.status_code} {latest.text[:200]}", None
    acked = w.snapshots[-1] if w.snapshots else None
    if actual == acked:
        saved, applied = w.snapshots, (False if doubt is not None else None)
    elif doubt is not None and actual == doubt:
        saved, applied = [*w.snapshots, doubt], True
    else:
        return f"latest snapshot {_stamp(actual)} is not {_stamp(acked)} or {_stamp(doubt)}", None
    history = client.get(f"{w.side}/snapshots")
    if history.status_code != 200:
        return f"GET snapshots -> {history.status_code} {history.text[:200]}", None
    stamps = [item["updatedAt"] for item in history.json()["data"]]
    if len(stamps) > SNAPSHOT_HISTORY:
        return f"{len(stamps)} snapshots in history, over the limit {SNAPSHOT_HISTORY}", None
    expected = [s["updatedAt"] for s in reversed(saved[:-1])][:SNAPSHOT_HISTORY]
    if stamps != expected:
        return f"snapshot history {stamps}, expected {expected}", None
    by_stamp = {s["updatedAt"]: s for s in saved}
    for stamp in stamps:
        one = client.get(f"{w.side}/snapshots/{stamp}")
        if one.status_code != 200 or _envelope(one.content) != by_stamp[stamp]:
            return f"history snapshot {stamp} is not whole: {one.status_code}", None
    w.snapshots = saved
    return None, applied


def _envelope(raw: bytes) -> dict[str, Any]:
    """The stored bytes as sent (a torn JSON fails here); the server adds ``handleKey``."""
    envelope: dict[str, Any] = json.loads(raw)
    if envelope.get("handleKey", 0) is None:
        del envelope["handleKey"]
    return envelope


def _stamp(envelope: dict[str, Any] | None) -> object:
    return None if envelope is None else envelope.get("updatedAt")


def _outputs(
    w: Writer, client: httpx.Client, template: dict[str, bytes]
) -> tuple[str | None, bool | None]:
    if not w.side:
        return None, None
    doubt = w.in_doubt.output if w.in_doubt is not None else None
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = client.get(f"{w.side}/outputs", params={"cursor": cursor} if cursor else {})
        if page.status_code != 200:
            return f"GET outputs -> {page.status_code} {page.text[:200]}", None
        ids.extend(item["id"] for item in page.json()["data"])
        cursor = page.json().get("next_cursor")
        if not cursor:
            break
    numbers = [int(i.removeprefix("out_")) for i in ids]
    if numbers != sorted(set(numbers)):
        return f"output ids not unique and increasing: {ids}", None
    acked = [i for i, _ in w.outputs]
    extra = [i for i in ids if i not in acked]
    if [i for i in ids if i in acked] != acked:
        return f"acknowledged outputs missing: {sorted(set(acked) - set(ids))}", None
    data = dict(w.outputs)
    applied: bool | None = False if doubt is not None else None
    if extra:
        if doubt is None or len(extra) != 1 or int(extra[0][4:]) <= w.top_output:
            return f"outputs nobody acknowledged: {extra}", None
        data[extra[0]] = doubt
        applied = True
    for output_id, expected in data.items():
        raw = client.get(f"{w.side}/outputs/{output_id}", params={"raw": "1"})
        if raw.status_code != 200 or raw.content != expected:
            return f"output {output_id} is not whole: {raw.status_code}", None
    if extra:
        w.outputs.append((extra[0], data[extra[0]]))
        w.top_output = int(extra[0][4:])
    return None, applied


def _imports(
    w: Writer, client: httpx.Client, template: dict[str, bytes]
) -> tuple[str | None, bool | None]:
    doubt = w.in_doubt.imported if w.in_doubt is not None else None
    agent_url = w.side.split("/sessions/")[0]
    for sid in w.imports:
        found = observe(client, f"{agent_url}/sessions/{sid}/fs", "/")
        if found != template:
            return f"acknowledged import {sid} is not whole: {sorted(found)}", None
    if doubt is None:
        return None, None
    if client.get(f"{agent_url}/sessions/{doubt}").status_code == 404:
        return None, False
    found = observe(client, f"{agent_url}/sessions/{doubt}/fs", "/")
    if found != template:
        # An import is one store transaction (issue 10): test_crash fails on any of these.
        w.torn_imports.append(f"{doubt}: {len(found)} of {len(template)} files")
        return None, False
    w.imports.append(doubt)
    return None, True

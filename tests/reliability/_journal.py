"""Writers that journal what the server acknowledged, and the check after a crash.

Each writer owns a directory of one session and does one request at a time, so
its acknowledged state is exact, and at most one request (the one in flight
when the server died) is in doubt. After a restart the session must hold
exactly the acknowledged state, or that state with the in-doubt change applied
whole: never a mixture, never a torn file.

New operations (snapshot rotations, output stores, imports) plug in as one
more function in ``OPS``: it returns the request and the change it makes.
"""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Change:
    """What a request does to a writer's files if it takes effect."""

    put: dict[str, bytes] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    snapshot: dict[str, Any] | None = None  # the envelope a snapshot rotation saves
    output: bytes | None = None  # the data an output store adds (its id comes with the answer)
    imported: str | None = None  # the session id an import creates

    def apply(self, files: dict[str, bytes]) -> dict[str, bytes]:
        after = {p: data for p, data in files.items() if p not in self.remove}
        after.update(self.put)
        return after


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    expect: int
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] | None = None


@dataclass
class Writer:
    """One client's view: the files it owns under ``prefix`` as acknowledged."""

    base: str  # .../fs
    prefix: str
    rng: random.Random
    files: dict[str, bytes] = field(default_factory=dict)
    seq: int = 0
    acknowledged: int = 0
    in_doubt: Change | None = None
    doubts: dict[str, int] = field(default_factory=lambda: {"applied": 0, "dropped": 0})
    failures: list[str] = field(default_factory=list)
    # Side resources, one session per writer (``side``) so their state is exact too.
    side: str = ""  # /v1/agents/<agent>/sessions/<sid> of this writer's own session
    archive: bytes = b""  # an exported session that ``op_import`` imports again
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[tuple[str, bytes]] = field(default_factory=list)
    top_output: int = 0  # the highest output number ever acknowledged
    imports: list[str] = field(default_factory=list)
    torn_imports: list[str] = field(default_factory=list)  # in-doubt imports left partial

    def fresh(self, stem: str) -> str:
        self.seq += 1
        return f"{self.prefix}/{stem}/f{self.seq}.bin"

    def payload(self, large: bool = False) -> bytes:
        # Unique per write, so a stale or torn version can never look right.
        head = f"{self.prefix}#{self.seq}#{self.rng.random()}#".encode()
        size = self.rng.randint(1_100_000, 2_300_000) if large else self.rng.randint(0, 3000)
        return head + self.rng.randbytes(size)

    def pick(self) -> str:
        return self.rng.choice(sorted(self.files))


Op = Callable[[Writer], tuple[Request, Change] | None]


def op_create(w: Writer) -> tuple[Request, Change] | None:
    path = w.fresh(f"d{w.rng.randint(0, 3)}")
    data = w.payload()
    body = {"content": base64.b64encode(data).decode(), "encoding": "base64"}
    return Request("POST", f"{w.base}{path}", 201, json=body), Change(put={path: data})


def op_overwrite(w: Writer) -> tuple[Request, Change] | None:
    if not w.files:
        return None
    path = w.pick()
    data = w.payload(large=w.rng.random() < 0.15)
    headers = {"content-type": "application/octet-stream"}
    return Request("PUT", f"{w.base}{path}", 200, content=data, headers=headers), Change(
        put={path: data}
    )


def op_move(w: Writer) -> tuple[Request, Change] | None:
    if not w.files:
        return None
    src = w.pick()
    dst = w.fresh(f"m{w.rng.randint(0, 3)}")
    body = {"from": src, "to": dst}
    return Request("POST", f"{w.base}/_/move", 200, json=body), Change(
        put={dst: w.files[src]}, remove=(src,)
    )


def op_move_tree(w: Writer) -> tuple[Request, Change] | None:
    dirs = sorted({p.rsplit("/", 1)[0] for p in w.files})
    if not dirs:
        return None
    src = w.rng.choice(dirs)
    w.seq += 1
    dst = f"{w.prefix}/t{w.seq}"
    moved = {p: data for p, data in w.files.items() if p.startswith(src + "/")}
    change = Change(
        put={dst + p[len(src) :]: data for p, data in moved.items()}, remove=tuple(moved)
    )
    return Request("POST", f"{w.base}/_/move", 200, json={"from": src, "to": dst}), change


def op_delete(w: Writer) -> tuple[Request, Change] | None:
    if not w.files:
        return None
    path = w.pick()
    return Request("DELETE", f"{w.base}{path}", 200), Change(remove=(path,))


def op_snapshot(w: Writer) -> tuple[Request, Change] | None:
    if not w.side:
        return None
    w.seq += 1
    envelope = {
        "version": w.seq,
        "updatedAt": 1_700_000_000_000 + w.seq,
        "snapshot": {"writer": w.prefix, "seq": w.seq, "pad": w.rng.randbytes(600).hex()},
    }
    return Request("PUT", f"{w.side}/snapshot", 200, json=envelope), Change(snapshot=envelope)


def op_output(w: Writer) -> tuple[Request, Change] | None:
    if not w.side:
        return None
    data = w.payload()
    body = {
        "data": base64.b64encode(data).decode(),
        "encoding": "base64",
        "metadata": {"type": "raw", "mimeType": "application/octet-stream"},
    }
    return Request("POST", f"{w.side}/outputs", 201, json=body), Change(output=data)


def op_import(w: Writer) -> tuple[Request, Change] | None:
    if not w.archive:
        return None
    w.seq += 1
    sid = f"safe_named_imp-{w.prefix.strip('/')}-{w.seq}"
    agent_url = w.side.split("/sessions/")[0]
    return Request(
        "POST",
        f"{agent_url}/import?session_id={sid}",
        201,
        content=w.archive,
        headers={"content-type": "application/gzip"},
    ), Change(imported=sid)


OPS: list[tuple[Op, int]] = [
    (op_create, 5),
    (op_overwrite, 4),
    (op_move, 2),
    (op_move_tree, 1),
    (op_delete, 2),
    (op_snapshot, 2),
    (op_output, 2),
    (op_import, 1),
]
"""Operations and their weights; a writer with many files deletes more."""


def next_op(w: Writer) -> tuple[Request, Change]:
    ops, weights = zip(*OPS, strict=True)
    while True:
        op = w.rng.choices(ops, weights)[0]
        if len(w.files) > 25 and w.rng.random() < 0.5:
            op = op_delete
        planned = op(w)
        if planned is not None:
            return planned


def drive(w: Writer, client: httpx.Client, stop: threading.Event) -> None:
    """Send requests until ``stop`` or the server goes away; journal what was acknowledged."""
    while not stop.is_set():
        request, change = next_op(w)
        try:
            response = client.request(
                request.method,
                request.url,
                json=request.json,
                content=request.content,
                headers=request.headers,
            )
        except httpx.TransportError:
            w.in_doubt = change  # the server may or may not have committed it
            return
        if response.status_code != request.expect:
            w.failures.append(
                f"{request.method} {request.url} -> {response.status_code} {response.text[:300]}"
            )
            return
        w.files = change.apply(w.files)
        if change.snapshot is not None:
            w.snapshots.append(change.snapshot)
        if change.output is not None:
            number = int(response.json()["id"].removeprefix("out_"))
            if number <= w.top_output:
                w.failures.append(f"output id out_{number} after out_{w.top_output}: reused")
                return
            w.top_output = number
            w.outputs.append((f"out_{number}", change.output))
        if change.imported is not None:
            w.imports.append(change.imported)
        w.acknowledged += 1


def observe(client: httpx.Client, base: str, directory: str) -> dict[str, bytes]:
    """Every file below ``directory`` with its exact bytes, read through the API."""
    found: dict[str, bytes] = {}
    pending = [directory]
    while pending:
        current = pending.pop()
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            response = client.get(f"{base}{current}", params=params)
            if response.status_code == 404 and current == directory:
                return found
            response.raise_for_status()
            page = response.json()
            for entry in page["data"]:
                if entry["is_directory"]:
                    pending.append(entry["path"])
                else:
                    raw = client.get(f"{base}{entry['path']}", params={"raw": "1"})
                    raw.raise_for_status()
                    found[entry["path"]] = raw.content
            cursor = page.get("next_cursor")
            if not cursor:
                break
    return found


def verify(w: Writer, actual: dict[str, bytes]) -> str | None:
    """Settle the writer on what survived; a message when that state is impossible."""
    allowed = [w.files]
    if w.in_doubt is not None:
        allowed.append(w.in_doubt.apply(w.files))
    if actual not in allowed:
        return describe(w.prefix, allowed, actual)
    if w.in_doubt is not None:
        w.doubts["applied" if actual == allowed[1] and actual != w.files else "dropped"] += 1
    w.files = actual
    w.in_doubt = None
    return None


def describe(prefix: str, allowed: list[dict[str, bytes]], actual: dict[str, bytes]) -> str:
    lines = [f"{prefix}: the store holds a state no acknowledged history allows"]
    for i, state in enumerate(allowed):
        missing = sorted(set(state) - set(actual))
        extra = sorted(set(actual) - set(state))
        differ = sorted(p for p in set(state) & set(actual) if state[p] != actual[p])
        lines.append(f"  vs allowed[{i}]: missing={missing} extra={extra} differ={differ}")
    return "\n".join(lines)

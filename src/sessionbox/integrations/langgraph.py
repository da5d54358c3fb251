"""A LangGraph ``BaseStore`` on a sessionbox session: long-term memory as plain JSON files.

``SessionboxStore(files)`` keeps item ``key`` of namespace ``("users", "42")`` in
``/users/42/<key>.json`` of the session whose ``files`` it is given (the SDK object, so
the session can be in-process or on a server). A person or another tool sees the
memories as files, in the web UI too. Install ``sessionbox[langgraph]``.

The answers are those of LangGraph's own ``InMemoryStore`` (the tests run the same
operations on both and compare), with four choices where it leaves things open:

- search returns items in (namespace, key) order, so pages are stable;
- a comparison (``$gt`` ...) with a missing or non-numeric field does not match
  (``InMemoryStore`` raises ``TypeError``/``ValueError`` for the whole search);
- a namespace is listed while it holds an item (``InMemoryStore`` keeps listing one
  whose items were all deleted, and one that was only read);
- a batch reads before it writes, as ``InMemoryStore`` does: its gets and searches see
  the store as it was before the batch; the last put of a key wins. Each put is its own
  write: a batch is not one transaction.

TTL (minutes, LangGraph's unit) is supported: an item's envelope holds its expiry; an
expired item is never returned and is deleted when met; ``sweep_ttl()`` deletes every
expired item. Reads refresh a TTL (a conditional rewrite) unless told not to. Semantic
search (an ``index``) is not supported: a ``query`` is ignored, as ``InMemoryStore``
without an index ignores it.

File names: a namespace label is a directory, a key ``<key>.json``. Characters outside
``[A-Za-z0-9 -_+=@,!()]`` (and a leading ``.`` or ``_``) are written ``~HH`` (UTF-8
bytes in hex), so any label or key is a valid path and names never collide (labels
cannot hold ``.``, so no directory ends in ``.json``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    validate_op_namespace,
)

from sessionbox.errors import NotADirectory, NotFound, PreconditionFailed, SessionNotFound

SUFFIX = ".json"
_SAFE = re.compile(r"[A-Za-z0-9 \-_+=@,!()]")
Namespace = tuple[str, ...]


def encode(label: str) -> str:
    """A label or key as one path segment (reversible, see the module docstring)."""
    out = []
    for i, char in enumerate(label):
        if _SAFE.fullmatch(char) and not (i == 0 and char in "_"):
            out.append(char)
        else:
            out.append("".join(f"~{b:02X}" for b in char.encode("utf-8")))
    return "".join(out)


def decode(segment: str) -> str:
    return re.sub(
        r"(?:~[0-9A-F]{2})+",
        lambda m: bytes.fromhex(m.group(0).replace("~", "")).decode("utf-8"),
        segment,
    )


@contextlib.contextmanager
def _absent_ok() -> Iterator[None]:
    """A missing item or namespace is no error here; a missing session is."""
    try:
        yield
    except SessionNotFound:
        raise
    except (NotFound, NotADirectory):
        pass


def _matches(value: Any, wanted: Any) -> bool:
    """LangGraph's filter: equality (nested dicts and lists compared element-wise) or
    the operators ``$eq $ne $gt $gte $lt $lte``, as ``InMemoryStore`` applies them."""
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(value, op, arg) for op, arg in wanted.items())
        return isinstance(value, dict) and all(_matches(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, list | tuple):
        return (
            isinstance(value, list | tuple)
            and len(value) == len(wanted)
            and all(_matches(v, w) for v, w in zip(value, wanted, strict=True))
        )
    return bool(value == wanted)


def _operator(value: Any, op: str, arg: Any) -> bool:
    if op == "$eq":
        return bool(value == arg)
    if op == "$ne":
        return bool(value != arg)
    compare = {
        "$gt": float.__gt__,
        "$gte": float.__ge__,
        "$lt": float.__lt__,
        "$lte": float.__le__,
    }.get(op)
    if compare is None:
        raise ValueError(f"Unsupported operator: {op}")
    try:
        return bool(compare(float(value), float(arg)))
    except (TypeError, ValueError):  # a missing or non-numeric field (InMemoryStore raises)
        return False


def _namespace_matches(condition: MatchCondition, namespace: Namespace) -> bool:
    path = condition.path
    if len(namespace) < len(path):
        return False
    pairs = (
        zip(namespace, path, strict=False)
        if condition.match_type == "prefix"
        else zip(reversed(namespace), reversed(path), strict=False)
    )
    if condition.match_type not in ("prefix", "suffix"):
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


class SessionboxStore(BaseStore):
    """LangGraph's ``BaseStore`` on one session's files (see the module docstring)::

    store = SessionboxStore(sdk.session("my-agent", "safe_named_memory").files)
    graph = builder.compile(store=store)
    """

    supports_ttl = True

    def __init__(
        self,
        files: Any,
        *,
        root: str = "/",
        ttl: TTLConfig | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.files = files
        self.root = root.rstrip("/")
        self.ttl_config = ttl
        self._now = clock or (lambda: datetime.now(UTC))

    # -- paths --------------------------------------------------------------

    def _dir(self, namespace: Namespace) -> str:
        return "/".join([self.root, *map(encode, namespace)]) or "/"

    def _file(self, namespace: Namespace, key: str) -> str:
        return f"{self._dir(namespace).rstrip('/')}/{encode(key)}{SUFFIX}"

    # -- batches ------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        ops = list(ops)
        for op in ops:
            validate_op_namespace(op)
        results: list[Result] = []
        puts: dict[tuple[Namespace, str], PutOp] = {}
        for op in ops:
            if isinstance(op, GetOp):
                results.append(self._get(op))
            elif isinstance(op, SearchOp):
                results.append(self._search(op))
            elif isinstance(op, ListNamespacesOp):
                results.append(self._list_namespaces(op))
            elif isinstance(op, PutOp):
                puts[(op.namespace, op.key)] = op
                results.append(None)
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        for op in puts.values():
            self._put(op)
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # -- items --------------------------------------------------------------

    def _load(self, path: str) -> tuple[Any, dict[str, Any]] | None:
        """The entry and envelope in ``path``; None if it is missing."""
        with _absent_ok():
            return self.files.get_info(path), json.loads(self.files.read(path))
        return None

    def _expired(self, body: dict[str, Any]) -> bool:
        expires = body.get("expires_at")
        return expires is not None and datetime.fromisoformat(expires) <= self._now()

    def _read(self, path: str, *, refresh: bool) -> Item | None:
        """The item in ``path``; None if it is missing or expired (then deleted)."""
        loaded = self._load(path)
        if loaded is None:
            return None
        entry, body = loaded
        if self._expired(body):
            self._drop(path, entry.etag)
            return None
        if refresh and body.get("ttl_minutes") is not None:
            body = self._envelope(body["value"], body["ttl_minutes"])
            # Written meanwhile? Then that newer write set its own expiry.
            with contextlib.suppress(PreconditionFailed):
                entry = self.files.write(path, self._dump(body), etag=entry.etag)
        namespace, key = self._split(path)
        return Item(
            value=body["value"],
            key=key,
            namespace=namespace,
            created_at=entry.created_at,
            updated_at=entry.updated_at,
        )

    def _drop(self, path: str, etag: str) -> None:
        with _absent_ok(), contextlib.suppress(PreconditionFailed):  # gone, or rewritten
            self.files.remove(path, etag=etag)

    def _split(self, path: str) -> tuple[Namespace, str]:
        parts = path[len(self.root) + 1 :].split("/")
        return tuple(map(decode, parts[:-1])), decode(parts[-1][: -len(SUFFIX)])

    def _envelope(self, value: Any, ttl: float | None) -> dict[str, Any]:
        expires = None if ttl is None else (self._now() + timedelta(minutes=ttl)).isoformat()
        return {"value": value, "ttl_minutes": ttl, "expires_at": expires}

    @staticmethod
    def _dump(body: dict[str, Any]) -> bytes:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def _get(self, op: GetOp) -> Item | None:
        return self._read(self._file(op.namespace, op.key), refresh=self._refresh(op.refresh_ttl))

    def _refresh(self, asked: bool) -> bool:
        return asked and (self.ttl_config or {}).get("refresh_on_read", True)

    def _put(self, op: PutOp) -> None:
        path = self._file(op.namespace, op.key)
        if op.value is None:
            with _absent_ok():
                self.files.remove(path)
            return
        if op.index not in (None, False):
            raise NotImplementedError("SessionboxStore has no semantic index (index=...)")
        self.files.write(path, self._dump(self._envelope(dict(op.value), op.ttl)))

    # -- walking ------------------------------------------------------------

    def _walk(self, namespace: Namespace) -> Iterator[tuple[Namespace, list[str]]]:
        """Each namespace under ``namespace`` (itself included) with its item files'
        paths, depth first; a namespace that holds no item is walked but not given."""
        children = None
        with _absent_ok():  # no such namespace, or a file in its place
            children = self.files.list(self._dir(namespace))
        if children is None:
            return
        items = sorted(e.path for e in children if not e.is_directory and e.name.endswith(SUFFIX))
        if items and namespace:
            yield namespace, items
        for child in children:
            if child.is_directory and "." not in child.name:
                yield from self._walk((*namespace, decode(child.name)))

    def _search(self, op: SearchOp) -> list[SearchItem]:
        found: list[tuple[Namespace, str, str]] = []
        for namespace, paths in self._walk(op.namespace_prefix):
            for path in paths:
                found.append((namespace, self._split(path)[1], path))
        found.sort()
        refresh = self._refresh(op.refresh_ttl)
        out: list[SearchItem] = []
        skip = op.offset
        for _namespace, _key, path in found:
            if len(out) >= op.limit:
                break
            item = self._read(path, refresh=refresh)
            if item is None or not all(
                _matches(item.value.get(k), v) for k, v in (op.filter or {}).items()
            ):
                continue
            if skip:
                skip -= 1
                continue
            out.append(
                SearchItem(item.namespace, item.key, item.value, item.created_at, item.updated_at)
            )
        return out

    def _list_namespaces(self, op: ListNamespacesOp) -> list[Namespace]:
        namespaces = [ns for ns, _ in self._walk(())]
        if op.match_conditions:
            namespaces = [
                ns
                for ns in namespaces
                if all(_namespace_matches(c, ns) for c in op.match_conditions)
            ]
        if op.max_depth is not None:
            namespaces = list({ns[: op.max_depth] for ns in namespaces})
        namespaces.sort()
        return namespaces[op.offset : op.offset + op.limit]

    # -- TTL ----------------------------------------------------------------

    def sweep_ttl(self) -> int:
        """Delete every expired item; returns how many."""
        swept = 0
        for _namespace, paths in list(self._walk(())):
            for path in paths:
                loaded = self._load(path)
                if loaded is not None and self._expired(loaded[1]):
                    self._drop(path, loaded[0].etag)
                    swept += 1
        return swept

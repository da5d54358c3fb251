"""The LangGraph store (issue 21): the same operations run on ``SessionboxStore`` and on
LangGraph's own ``InMemoryStore`` must give the same answers; then a real LangGraph graph
(scripted model, no network) keeps and finds memories through it.

``fs`` is one session's files on (local, http) x (sqlite, postgres). Where the two stores
may differ by design (see the module docstring of ``sessionbox.integrations.langgraph``),
the comparison normalises: search pages are compared by size and against our own stable
order, and the reference forgets a namespace once it holds no item.
"""

from __future__ import annotations

import asyncio
import json
import operator
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import InjectedStore, ToolNode, tools_condition
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

from sessionbox.integrations.langgraph import SessionboxStore, decode, encode

LABELS = ["a", "b", "users", "_x", "a b", "\u00fc", "/", "%2e", "~7E", "x-y", "CON"]
KEYS = ["k", "k.json", ".", "..", "", "_", "a/b", "~", "%", ".env", "\u65e5\u672c"]
namespaces = st.lists(st.sampled_from(LABELS), min_size=1, max_size=3).map(tuple)
prefixes = st.lists(st.sampled_from(LABELS), min_size=0, max_size=2).map(tuple)
scalars = st.one_of(st.integers(-5, 5), st.sampled_from(["red", "blue", ""]), st.booleans())
values = st.fixed_dictionaries(
    {"n": st.integers(-5, 5)},
    optional={
        "color": scalars,
        "tags": st.lists(st.sampled_from(["x", "y"]), max_size=2),
        "d": st.fixed_dictionaries({"x": st.integers(0, 2)}),
        "f": st.floats(-2, 2, allow_nan=False),
    },
)
filters = st.one_of(
    st.none(),
    st.fixed_dictionaries({"n": st.integers(-5, 5)}),
    st.fixed_dictionaries({"n": st.fixed_dictionaries({}, optional={
        "$gt": st.integers(-5, 5), "$lte": st.integers(-5, 5), "$ne": st.integers(-5, 5)})}),
    st.fixed_dictionaries({"color": scalars}),
    st.fixed_dictionaries({"tags": st.lists(st.sampled_from(["x", "y"]), max_size=2)}),
    st.fixed_dictionaries({"d": st.fixed_dictionaries({"x": st.integers(0, 2)})}),
    st.fixed_dictionaries({"f": st.floats(-2, 2, allow_nan=False)}),
)  # fmt: skip
# (st.builds would also draw the ops' optional fields, such as a TTL of 10**9 minutes.)
puts = st.tuples(namespaces, st.sampled_from(KEYS), st.one_of(values, values, st.none())).map(
    lambda t: PutOp(*t)
)
gets = st.tuples(namespaces, st.sampled_from(KEYS)).map(lambda t: GetOp(*t))
searches = st.tuples(prefixes, filters, st.integers(0, 6), st.integers(0, 4)).map(
    lambda t: SearchOp(*t)
)
conditions = st.tuples(
    st.sampled_from(["prefix", "suffix"]),
    st.lists(st.sampled_from([*LABELS[:4], "*"]), min_size=1, max_size=2).map(tuple),
).map(lambda t: MatchCondition(*t))
listings = st.tuples(
    st.one_of(st.none(), st.lists(conditions, max_size=2).map(tuple)),
    st.one_of(st.none(), st.integers(1, 3)),
    st.integers(0, 8),
    st.integers(0, 3),
).map(lambda t: ListNamespacesOp(*t))
batches = st.lists(st.one_of(puts, gets, searches), min_size=2, max_size=4)
operations = st.lists(
    st.one_of(puts, puts, gets, searches, listings, batches), min_size=1, max_size=12
)


def _forget_empty(reference: InMemoryStore) -> None:
    """InMemoryStore keeps a namespace a get or a delete touched; ours lists only those
    holding an item."""
    for ns in [ns for ns, items in reference._data.items() if not items]:
        del reference._data[ns]


def _item(item: Any) -> Any:
    return None if item is None else (item.namespace, item.key, item.value)


def _run(store: BaseStore, ops: list[Any]) -> Any:
    """A batch's answers, or the type of the exception it raised."""
    try:
        return store.batch(ops)
    except (InvalidNamespaceError, ValueError, TypeError) as exc:
        return type(exc)


def _compare(ours: SessionboxStore, reference: InMemoryStore, op: Any) -> None:
    ops = op if isinstance(op, list) else [op]
    # Each search is followed, in the same batch (so against the same state), by the
    # same search unpaginated: pages are checked against the full answers.
    asked: list[Any] = []
    for one in ops:
        asked.append(one)
        if isinstance(one, SearchOp):
            asked.append(one._replace(limit=10_000, offset=0))
    got = _run(ours, asked)
    want = _run(reference, asked)
    _forget_empty(reference)
    if isinstance(want, type):
        assert got is want, (op, got, want)
        return
    answers = iter(zip(got, want, strict=True))
    for one in ops:
        mine, theirs = next(answers)
        if isinstance(one, GetOp):
            assert _item(mine) == _item(theirs), one
        elif isinstance(one, ListNamespacesOp):
            assert mine == theirs, one
        elif isinstance(one, SearchOp):
            full_mine, full_theirs = next(answers)
            full = [_item(i) for i in full_mine]
            assert sorted(map(repr, full)) == sorted(repr(_item(i)) for i in full_theirs), one
            assert len(mine) == len(theirs), one
            assert [_item(i) for i in mine] == full[one.offset : one.offset + one.limit], one
        else:
            assert mine is None and theirs is None


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_answers_match_langgraphs_in_memory_store(fs: Any, ops: list[Any]) -> None:
    root = f"/t{abs(hash(repr(ops))) % 10**12}"
    ours = SessionboxStore(fs, root=root)
    reference = InMemoryStore()
    try:
        for op in ops:
            _compare(ours, reference, op)
    finally:
        fs.remove(root, recursive=True) if fs.exists(root) else None


def test_the_public_methods_and_a_worked_example(fs: Any) -> None:
    store = SessionboxStore(fs)
    store.put(("users", "42"), "prefs", {"theme": "dark", "size": 3})
    store.put(("users", "42"), "name", {"first": "Ada"})
    store.put(("users", "7"), "prefs", {"theme": "light", "size": 5})
    store.put(("docs",), "a b/c", {"n": 1})
    item = store.get(("users", "42"), "prefs")
    assert item is not None and item.value == {"theme": "dark", "size": 3}
    assert item.created_at <= item.updated_at
    # The files a person sees in the session:
    assert fs.read_text("/users/42/prefs.json").startswith('{"value":{"theme":"dark"')
    assert {e.name for e in fs.list("/docs")} == {"a b~2Fc.json"}
    assert [i.key for i in store.search(("users",), filter={"size": {"$gt": 4}})] == ["prefs"]
    assert [(i.namespace, i.key) for i in store.search(("users",), limit=2, offset=1)] == [
        (("users", "42"), "prefs"),
        (("users", "7"), "prefs"),
    ]
    assert store.list_namespaces() == [("docs",), ("users", "42"), ("users", "7")]
    assert store.list_namespaces(prefix=("users",), max_depth=1) == [("users",)]
    assert store.list_namespaces(suffix=("7",)) == [("users", "7")]
    before = item.created_at
    store.put(("users", "42"), "prefs", {"theme": "dark", "size": 4})
    again = store.get(("users", "42"), "prefs")
    assert again is not None and again.created_at == before and again.updated_at >= before
    store.delete(("users", "42"), "prefs")
    store.delete(("users", "42"), "name")
    store.delete(("users", "42"), "never-there")
    assert store.get(("users", "42"), "prefs") is None
    assert store.list_namespaces() == [("docs",), ("users", "7")]
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph",), "k", {})
    with pytest.raises(InvalidNamespaceError):
        store.put(("a.b",), "k", {})
    with pytest.raises(NotImplementedError):
        store.put(("x",), "k", {"text": "t"}, index=["text"])


def test_a_comparison_with_a_missing_or_text_field_does_not_match(fs: Any) -> None:
    """Where InMemoryStore raises for the whole search, an item simply does not match."""
    store = SessionboxStore(fs)
    store.put(("s",), "num", {"size": 5})
    store.put(("s",), "none", {"other": 1})
    store.put(("s",), "text", {"size": "big"})
    assert [i.key for i in store.search(("s",), filter={"size": {"$gt": 4}})] == ["num"]
    with pytest.raises((TypeError, ValueError)):
        reference = InMemoryStore()
        reference.put(("s",), "none", {"other": 1})
        reference.search(("s",), filter={"size": {"$gt": 4}})


def test_async_batches(fs: Any) -> None:
    store = SessionboxStore(fs)

    async def run() -> list[Any]:
        await store.aput(("a",), "k", {"n": 1})
        return await store.abatch(
            [GetOp(("a",), "k"), PutOp(("a",), "k", {"n": 2}), GetOp(("a",), "k")]
        )

    first, none, second = asyncio.run(run())
    # A batch reads before it writes, as InMemoryStore does.
    assert none is None and first.value == second.value == {"n": 1}
    assert store.get(("a",), "k").value == {"n": 2}  # type: ignore[union-attr]


def test_names_round_trip() -> None:
    for text in [*LABELS, *KEYS, "~41", "a~", "\u00e9\u0301", "\U0001f600", "_a_"]:
        assert decode(encode(text)) == text
        assert "%" not in encode(text) and "/" not in encode(text)
        assert not encode(text).startswith((".", "_"))


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_ttl_expires_refreshes_and_sweeps(fs: Any) -> None:
    clock = _Clock()
    store = SessionboxStore(fs, clock=clock, ttl={"default_ttl": 10})
    assert store.supports_ttl
    store.put(("m",), "short", {"v": 1}, ttl=1)
    store.put(("m",), "default", {"v": 2})  # 10 minutes from the store's ttl config
    store.put(("m",), "forever", {"v": 3}, ttl=None)
    clock.now += timedelta(seconds=50)
    assert store.get(("m",), "short") is not None  # read at 50 s: refreshed to 1 min from now
    clock.now += timedelta(seconds=50)
    assert store.get(("m",), "short", refresh_ttl=False) is not None  # 50 s after the refresh
    clock.now += timedelta(seconds=30)
    assert store.get(("m",), "short") is None  # 80 s after the refresh: expired, deleted
    assert not fs.exists("/m/short.json")
    assert [i.key for i in store.search(("m",))] == ["default", "forever"]
    clock.now += timedelta(minutes=30)
    assert store.sweep_ttl() == 1
    assert [i.key for i in store.search(("m",))] == ["forever"]
    assert json.loads(fs.read_text("/m/forever.json"))["expires_at"] is None


# -- a real graph ------------------------------------------------------------------


class ScriptedModel(GenericFakeChatModel):
    """A chat model that answers from a script; tools are bound by doing nothing."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


@tool
def remember(fact: str, user: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Keep a fact about a user."""
    key = f"fact-{len(store.search(('memories', user), limit=100))}"
    store.put(("memories", user), key, {"fact": fact})
    return f"kept {key}"


@tool
async def recall(user: str, store: Annotated[BaseStore, InjectedStore()]) -> str:
    """Every fact kept about a user."""
    return "; ".join(i.value["fact"] for i in await store.asearch(("memories", user)))


class State(TypedDict):
    messages: Annotated[list[AnyMessage], operator.add]


def _graph(store: BaseStore, script: Iterator[AIMessage]) -> Any:
    model = ScriptedModel(messages=script)

    def agent(state: State) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("tools", ToolNode([remember, recall]))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", tools_condition)
    builder.add_edge("tools", "agent")
    builder.add_edge("agent", END)
    return builder.compile(store=store)


def _call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def test_a_langgraph_graph_keeps_and_finds_memories(fs: Any) -> None:
    store = SessionboxStore(fs)
    first = _graph(
        store,
        iter(
            [
                _call("remember", "c1", fact="likes tea", user="ada"),
                _call("remember", "c2", fact="writes Rust", user="ada"),
                AIMessage(content="noted"),
            ]
        ),
    )
    out = first.invoke({"messages": [("user", "I like tea and write Rust")]})
    assert out["messages"][-1].content == "noted"
    assert {e.name for e in fs.list("/memories/ada")} == {"fact-0.json", "fact-1.json"}
    # Another conversation, run asynchronously (the store's abatch), finds them.
    second = _graph(
        store, iter([_call("recall", "c3", user="ada"), AIMessage(content="you like tea")])
    )
    answer = asyncio.run(second.ainvoke({"messages": [("user", "what do I like?")]}))
    recalled = [m for m in answer["messages"] if isinstance(m, ToolMessage)]
    assert recalled[0].content == "likes tea; writes Rust"

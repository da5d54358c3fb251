"""The output service and its hot-read cache, on every store."""

from __future__ import annotations

import asyncio
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sessionbox
from sessionbox.errors import OutputNotFound
from sessionbox.services._bytecache import ByteCache
from sessionbox.services.outputs import OutputService
from sessionbox.store.base import Store


def test_cache_is_bounded_in_bytes() -> None:
    cache = ByteCache(800)
    for i in range(50):
        cache.put(f"k{i}", bytes(90))
    assert cache.size <= 800 and len(cache) == 8
    assert cache.get("k49") is not None and cache.get("k0") is None
    cache.put("huge", bytes(101))  # over an eighth: never cached
    assert cache.get("huge") is None
    cache.discard("k49")
    assert cache.get("k49") is None and cache.size == 7 * 90


def test_cached_reads_follow_deletes_and_recreated_sessions(
    box: sessionbox.Sessionbox, store: Store, agent: str
) -> None:
    cache = ByteCache(1024 * 1024)
    service = OutputService(store, box.settings, cache)
    box.create_session(agent, "safe_named_cached")
    first = service.store_output(agent, "safe_named_cached", "one", metadata={"type": "raw"})
    assert service.get_output(agent, "safe_named_cached", first.id).data == "one"
    assert len(cache) == 1
    assert service.get_output(agent, "safe_named_cached", first.id).data == "one"
    service.delete_output(agent, "safe_named_cached", first.id)
    assert len(cache) == 0
    with pytest.raises(OutputNotFound):
        service.get_output(agent, "safe_named_cached", first.id)
    # Another process (here: the library, without the cache) deletes the session and
    # writes a different out_1: the cache must not answer with the old bytes.
    service.store_output(agent, "safe_named_cached", "two", metadata={"type": "raw"})
    assert service.get_output(agent, "safe_named_cached", "out_2").data == "two"
    box.delete_session(agent, "safe_named_cached")
    box.create_session(agent, "safe_named_cached")
    box.session(agent, "safe_named_cached").outputs.store_output("three", {"type": "raw"})
    assert service.get_output(agent, "safe_named_cached", "out_1").data == "three"
    with pytest.raises(OutputNotFound):
        service.get_output(agent, "safe_named_cached", "out_2")


def test_library_surface(box: sessionbox.Sessionbox, agent: str) -> None:
    box.create_session(agent, "safe_named_lib")
    outputs = box.session(agent, "safe_named_lib").outputs
    text = outputs.store_output("hi", {"type": "terminal", "command": "echo hi"})
    blob = outputs.store_output(b"\x00\xff", {"type": "image", "mimeType": "image/png"})
    assert outputs.format_marker(text.id) == text.marker == "[output:out_1]"
    assert outputs.get_output(blob.id).raw == b"\x00\xff"
    assert [o.id for o in outputs.list_outputs(type="image")] == ["out_2"]
    found, missing = outputs.resolve_markers([{"content": f"{blob.marker} [output:out_7]"}])
    assert [o.id for o in found] == ["out_2"] and missing == ["out_7"]
    outputs.delete_output("out_1")
    assert [o.id for o in outputs.list_outputs()] == ["out_2"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pieces=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.integers(0, 6).map(lambda n: f"[output:out_{n}]"),
            st.sampled_from(["[output:out_01]", "[output:out_]", "[output:out_1", "[output:x]"]),
        ),
        max_size=12,
    )
)
def test_resolve_finds_exactly_the_markers(
    box: sessionbox.Sessionbox, agent: str, pieces: list[str]
) -> None:
    sid = "safe_named_markers"
    try:
        box.create_session(agent, sid)
        outputs = box.session(agent, sid).outputs
        for i in range(3):
            outputs.store_output(f"data {i}", {"type": "raw"})
    except sessionbox.Exists:
        outputs = box.session(agent, sid).outputs
    text = "".join(pieces)
    wanted: list[str] = []
    for match in re.finditer(r"\[output:(out_[1-9][0-9]*)\]", text):
        if match.group(1) not in wanted:
            wanted.append(match.group(1))
    found, missing = outputs.resolve_markers(text)
    assert [o.id for o in found] + missing == sorted(
        wanted, key=lambda i: (i not in {"out_1", "out_2", "out_3"}, wanted.index(i))
    )
    assert all(o.data == f"data {int(o.id[4:]) - 1}" for o in found)
    assert set(missing) == set(wanted) - {"out_1", "out_2", "out_3"}


def test_async_library_mirrors_outputs_and_applets(box: sessionbox.Sessionbox, agent: str) -> None:
    from sessionbox.client.local import _AsyncProxy

    async def run() -> None:
        abox = _AsyncProxy(box)
        await abox.create_session(agent, "safe_named_async")
        handle = abox.session(agent, "safe_named_async")
        out = await handle.outputs.store_output("async", {"type": "raw"})
        assert (await handle.outputs.get_output(out.id)).data == "async"
        applets = abox.applets(agent)
        await applets.save("a", name="A", html="<p>")
        assert [a.slug for a in await applets.list()] == ["a"]

    asyncio.run(run())

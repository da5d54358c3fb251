"""The blocking and async SDK surfaces name the same methods with the same parameters.

mypy checks each facade against its Protocol (``sessionbox.client.protocols``);
this checks the two Protocols against each other, so a method added to one
flavour and not the other fails here.
"""

from __future__ import annotations

import inspect

import pytest

from sessionbox.client import protocols as p

PAIRS = [
    (p.Watch, p.AsyncWatch),
    (p.FilesApi, p.AsyncFilesApi),
    (p.SnapshotsApi, p.AsyncSnapshotsApi),
    (p.OutputsApi, p.AsyncOutputsApi),
    (p.AppletsApi, p.AsyncAppletsApi),
    (p.SessionHandleApi, p.AsyncSessionHandleApi),
    (p.SessionboxApi, p.AsyncSessionboxApi),
]
# Each flavour's own way to iterate and to close.
OWN = {
    "__iter__": "__aiter__",
    "__next__": "__anext__",
    "close": "aclose",
    "__enter__": "__aenter__",
    "__exit__": "__aexit__",
}
NO_IO = {"session", "applets", "format_marker", "__iter__"}  # sync in both flavours
ANNOTATIONS = {  # what a blocking result is called in the async flavour
    "Iterator[bytes]": "AsyncIterator[bytes]",
    "Iterator[Change]": "AsyncIterator[Change]",
    "Watch": "AsyncWatch",
    "FilesApi": "AsyncFilesApi",
    "SnapshotsApi": "AsyncSnapshotsApi",
    "OutputsApi": "AsyncOutputsApi",
    "AppletsApi": "AsyncAppletsApi",
    "SessionHandleApi": "AsyncSessionHandleApi",
}


def _members(protocol: type) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") or name in OWN or name in OWN.values()
    } | {name: None for name in getattr(protocol, "__annotations__", {})}


@pytest.mark.parametrize(("sync", "async_"), PAIRS, ids=[s.__name__ for s, _ in PAIRS])
def test_the_async_flavour_mirrors_the_blocking_one(sync: type, async_: type) -> None:
    blocking, awaited = _members(sync), _members(async_)
    assert {OWN.get(name, name) for name in blocking} == set(awaited)
    for name, member in blocking.items():
        twin = awaited[OWN.get(name, name)]
        if member is None:
            assert twin is None, name
            continue
        if isinstance(member, property):
            assert isinstance(twin, property), name
            returns = inspect.signature(member.fget).return_annotation  # type: ignore[arg-type]
            twin_returns = inspect.signature(twin.fget).return_annotation  # type: ignore[arg-type]
            assert twin_returns == ANNOTATIONS[returns], name
            continue
        function = member.__func__ if isinstance(member, staticmethod) else member
        twin_function = twin.__func__ if isinstance(twin, staticmethod) else twin
        assert callable(function) and callable(twin_function)
        if name in OWN:
            continue  # their signatures are each protocol's own (__exit__ vs __aexit__ ...)
        one, other = inspect.signature(function), inspect.signature(twin_function)
        assert list(one.parameters.values()) == list(other.parameters.values()), name
        expected = ANNOTATIONS.get(str(one.return_annotation), one.return_annotation)
        assert other.return_annotation == expected, name
        assert inspect.iscoroutinefunction(twin_function) == (name not in NO_IO), name

"""``sessionbox.Client``: the blocking twin of ``AsyncClient``, the same methods not awaited.

It runs an ``AsyncClient`` on an event loop in a helper thread (an anyio blocking
portal). The handles (files, snapshots, outputs, applets) are mirrored in one
generic place (``_SyncProxy``), so there is no second copy of any operation to
keep in step; the client itself is written out, so mypy checks it against
``protocols.SessionboxApi`` like the in-process library.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

import anyio
import anyio.from_thread
import httpx

from sessionbox.client._remote import AsyncApplets, AsyncOutputs, AsyncSnapshots
from sessionbox.client.http import AsyncClient, AsyncFiles, AsyncSessionHandle
from sessionbox.client.protocols import AppletsApi, SessionHandleApi
from sessionbox.ids import Mode
from sessionbox.services.sessions import Resolved
from sessionbox.types import SessionRecord

T = TypeVar("T")
_ASYNC_HANDLES = (AsyncFiles, AsyncSessionHandle, AsyncSnapshots, AsyncOutputs, AsyncApplets)


class Client:
    """Session storage on a sessionbox server, blocking: ``AsyncClient``'s methods, not
    awaited. ``transport`` is an async transport here too. Close it (or use ``with``)
    to stop the helper thread.

        with sessionbox.Client("http://127.0.0.1:8787", token="...") as client:
            record = client.create_session("my-agent")
            client.session("my-agent", record.id).files.write("/a.txt", "hi")
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **options: Any,
    ) -> None:
        self._portal_cm: AbstractContextManager[anyio.from_thread.BlockingPortal] = (
            anyio.from_thread.start_blocking_portal()
        )
        self._portal = self._portal_cm.__enter__()
        make: Callable[[], AsyncClient] = lambda: AsyncClient(  # noqa: E731
            base_url, token, transport, **options
        )
        self._client = self._portal.call(make)
        self.base_url = base_url
        self._closed = False

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        done: T = self._portal.call(_awaiting, call)  # anyio's overloads lose the type
        return done

    def create_session(
        self,
        agent_id: str,
        session_id: str | None = None,
        *,
        mode: Mode | None = None,
        ttl_seconds: int | None = None,
    ) -> SessionRecord:
        return self._run(
            self._client.create_session(agent_id, session_id, mode=mode, ttl_seconds=ttl_seconds)
        )

    def get_session(self, agent_id: str, session_id: str) -> SessionRecord:
        return self._run(self._client.get_session(agent_id, session_id))

    def resolve_session(
        self,
        agent_id: str,
        mode: Mode,
        *,
        panel_path: str | None = None,
        parent_session: str | None = None,
        name: str | None = None,
        session_id: str | None = None,
        new_session: bool = False,
    ) -> Resolved:
        """Find or create the session a panel should use (NatStack's derivation)."""
        return self._run(
            self._client.resolve_session(
                agent_id,
                mode,
                panel_path=panel_path,
                parent_session=parent_session,
                name=name,
                session_id=session_id,
                new_session=new_session,
            )
        )

    def list_sessions(
        self, agent_id: str, *, mode: Mode | None = None
    ) -> builtins.list[SessionRecord]:
        return self._run(self._client.list_sessions(agent_id, mode=mode))

    def delete_session(self, agent_id: str, session_id: str) -> None:
        self._run(self._client.delete_session(agent_id, session_id))

    def session(self, agent_id: str, session_id: str) -> SessionHandleApi:
        """A handle on an existing session (operations raise ``SessionNotFound`` if not)."""
        handle = self._client.session(agent_id, session_id)
        return cast(SessionHandleApi, _SyncProxy(self._portal, handle))

    def applets(self, agent_id: str) -> AppletsApi:
        """The agent's applets (shared by all its sessions)."""
        return cast(AppletsApi, _SyncProxy(self._portal, self._client.applets(agent_id)))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._run(self._client.aclose())
            finally:
                self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            with contextlib.suppress(Exception):  # e.g. collected on the portal's own thread
                self.close()


class _SyncProxy:
    """Mirrors an async SDK handle: coroutine methods run to completion on the portal."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, target: Any) -> None:
        self._portal = portal
        self._target = target

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, _ASYNC_HANDLES):
            return _SyncProxy(self._portal, value)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            result = value(*args, **kwargs)
            if isinstance(result, Coroutine):
                result = self._portal.call(_awaiting, result)
            if isinstance(result, AsyncIterator):  # read_stream's bytes, watch's changes
                return _SyncIterator(self._portal, result)
            return result

        return call


async def _awaiting(coro: Coroutine[Any, Any, T]) -> T:
    return await coro


class _SyncIterator(Iterator[T]):
    """Pulls an async iterator through the portal, one item per call."""

    def __init__(self, portal: anyio.from_thread.BlockingPortal, items: AsyncIterator[T]) -> None:
        self._portal = portal
        self._items = items

    def __next__(self) -> T:
        try:
            return self._portal.call(self._items.__anext__)
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        aclose = getattr(self._items, "aclose", None)
        if aclose is not None:
            self._portal.call(aclose)

    def __enter__(self) -> _SyncIterator[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

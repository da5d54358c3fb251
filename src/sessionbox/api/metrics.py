"""The operator's view: Prometheus metrics of one server process, at ``/metrics``.

Off unless ``SESSIONBOX_METRICS`` is set. Each app has its own registry (no process
globals: tests build many apps). Request metrics come from ``observe.RequestObserver``;
store latencies from ``MeteredStore``, which times every call of the ``Store`` protocol
(for a streamed read, the time to open it); the rest is read when scraped. Label values
are bounded: a route template, a method among seven, a status, a store method name, an
error code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Protocol, cast, runtime_checkable

import anyio.to_thread
from fastapi import Depends, FastAPI, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from sessionbox.api.auth import Principal, principal
from sessionbox.errors import SessionboxError
from sessionbox.store.base import Catalog, Store

# 0.25 ms .. 10 s: a small read is ~1 ms, an export or import of a big session seconds.
_BUCKETS = (0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
STORE_OPERATIONS = sorted(
    name
    for cls in (Store, Catalog)
    for name, value in vars(cls).items()
    if not name.startswith("_") and callable(value)
)


@runtime_checkable
class ReportsPool(Protocol):
    """A store with a connection pool (PostgreSQL): its sizes, read when scraped."""

    def pool_stats(self) -> dict[str, int]: ...


@runtime_checkable
class ReportsBytes(Protocol):
    """A store that can tell the bytes it holds by volume kind, cheaply (one aggregate)."""

    def stored_bytes(self) -> dict[str, int]: ...


class Metrics:
    """The registry and the metrics the server records into it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sessionbox_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sessionbox_http_request_duration_seconds",
            "Time from a request's arrival to its last response byte, by route template.",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.store_latency = Histogram(
            "sessionbox_store_operation_duration_seconds",
            "Time of one store call, by store method (a streamed read: opening it).",
            ["operation"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.store_errors = Counter(
            "sessionbox_store_operation_errors",
            "Store calls that raised, by store method and sessionbox error code.",
            ["operation", "code"],
            registry=r,
        )
        self.threads_busy = Gauge(
            "sessionbox_threadpool_busy",
            "Worker threads running blocking calls (store, files) right now.",
            registry=r,
        )
        self.threads_total = Gauge(
            "sessionbox_threadpool_size", "Worker threads the process may run at once.", registry=r
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def mount(self, app: FastAPI) -> None:
        """``GET /metrics``, for the admin (anyone, on an open loopback server, as ``/v1``).
        What is state rather than an event (subscribers, pools, bytes) is read when scraped."""
        self.registry.register(_StateCollector(app.state.store, app.state.events.subscriber_count))

        @app.get("/metrics", include_in_schema=False)
        async def scrape(caller: Annotated[Principal, Depends(principal)]) -> Response:
            caller.check_admin()
            limiter = anyio.to_thread.current_default_thread_limiter()
            self.threads_busy.set(limiter.borrowed_tokens)
            self.threads_total.set(limiter.total_tokens)
            # Collectors may ask the store (bytes stored): off the event loop.
            body = await run_in_threadpool(generate_latest, self.registry)
            return Response(body, media_type=CONTENT_TYPE_LATEST)


class _StateCollector(Collector):
    def __init__(self, store: object, subscribers: Callable[[], int]) -> None:
        self._store = store
        self._subscribers = subscribers

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "sessionbox_change_feed_subscribers",
            "Open live change-feed streams (server-sent events) in this process.",
            value=self._subscribers(),
        )
        if isinstance(self._store, ReportsPool):
            pool = GaugeMetricFamily(
                "sessionbox_db_pool_connections",
                "Database connections of this process's pool, by state.",
                labels=["state"],
            )
            for state, value in sorted(self._store.pool_stats().items()):
                pool.add_metric([state], value)
            yield pool
        if isinstance(self._store, ReportsBytes):
            stored = GaugeMetricFamily(
                "sessionbox_stored_bytes",
                "Bytes of content held, by volume kind (files, outputs, snapshots, applets).",
                labels=["kind"],
            )
            for kind, value in sorted(self._store.stored_bytes().items()):
                stored.add_metric([kind], value)
            yield stored


def metered(store: Store, metrics: Metrics) -> Store:
    """``store`` with every ``Store`` call timed; other attributes pass through."""
    return cast(Store, MeteredStore(store, metrics))


class MeteredStore:
    def __init__(self, store: Store, metrics: Metrics) -> None:
        self._store = store
        for name in STORE_OPERATIONS:
            method = getattr(store, name, None)
            if callable(method):
                setattr(self, name, _timed(name, method, metrics))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _timed(name: str, method: Callable[..., Any], metrics: Metrics) -> Callable[..., Any]:
    observe = metrics.store_latency.labels(name).observe
    errors = metrics.store_errors

    def call(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return method(*args, **kwargs)
        except SessionboxError as exc:
            errors.labels(name, exc.code).inc()
            raise
        finally:
            observe(time.perf_counter() - start)

    return call

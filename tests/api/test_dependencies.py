"""No route pays a thread-pool hop for a dependency.

FastAPI runs a plain ``def`` dependency in the thread pool: a hop that cost ~0.3 ms per
request on 2 shared cores, more than the store's work for a small file. Dependencies only
look things up, so every one is ``async``; blocking work belongs in the route's own
``run_in_threadpool`` call.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from pathlib import Path

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from sessionbox.api.app import create_app
from tests.conftest import small_limits


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        # FastAPI 0.16x keeps an included router whole, behind a wrapper of its own.
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)


def test_every_dependency_of_every_route_is_async(tmp_path: Path) -> None:
    routes = list(_routes(create_app(small_limits(tmp_path)).routes))
    assert len(routes) > 40, "the routes were not all found: has FastAPI's router changed?"
    checked = set()
    for route in routes:
        for dependency in _dependencies(route.dependant):
            if dependency.call is not None:
                checked.add(dependency.call)
                assert inspect.iscoroutinefunction(dependency.call), (
                    f"{route.path}: {dependency.call.__qualname__} runs in the thread pool"
                )
    names = {call.__name__ for call in checked}
    assert {"files", "principal", "sessions", "snapshots", "outputs", "applets"} <= names

"""Decision 0001: routes and dependencies run on the event loop. A plain ``def`` would
be handed to the thread pool, which costs more than the work itself (docs/performance.md)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute


def routes(app) -> Iterator[APIRoute]:  # type: ignore[no-untyped-def]
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from (r for r in router.routes if isinstance(r, APIRoute))


def callables(dependant: Any) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from callables(sub)


def test_every_route_and_dependency_is_async(app) -> None:  # type: ignore[no-untyped-def]
    found = list(routes(app))
    assert len(found) > 30
    blocking = {
        f"{route.path}: {call.__qualname__}"
        for route in found
        for call in callables(route.dependant)
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    }
    assert blocking == set()

"""Decision 0009: database work of requests runs off the event loop.

A statement on the loop that is slow, or that waits for SQLite's writers' lock, stops
every request of the process; when the lock's holder needs the loop to finish (the
audit writer does), the process stops for good. So the server's engines refuse any
statement on a thread running an event loop, and every route that works with a session
is a plain ``def``, which FastAPI runs in its thread pool.
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import os

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import text

from atalaya.accounts.deps import get_session
from atalaya.db import Database, OnEventLoopError
from atalaya.settings import Settings


def writers_lock_is_free(settings: Settings) -> bool:
    path = settings.database_url.removeprefix("sqlite:///") + ".writer-lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_it_refuses_a_statement_on_the_event_loop(fresh_database: Settings) -> None:
    db = Database.from_settings(fresh_database, serving=True)

    async def on_the_loop() -> None:
        with db.read_sessions() as session:
            session.execute(text("SELECT 1"))

    try:
        with pytest.raises(OnEventLoopError):
            asyncio.run(on_the_loop())
    finally:
        db.engine.dispose()


def test_it_refuses_a_write_on_the_loop_before_taking_the_writers_lock(
    fresh_database: Settings,
) -> None:
    if not fresh_database.database_url.startswith("sqlite"):
        pytest.skip("the writers' lock is SQLite's")
    db = Database.from_settings(fresh_database, serving=True)
    with db.sessions() as holder:
        holder.execute(text("SELECT 1"))  # a writer in a thread of its own holds the lock
        assert not writers_lock_is_free(fresh_database)

        async def write_on_the_loop() -> None:
            with db.sessions() as session:
                session.execute(text("SELECT 1"))

        # Refused at once: waiting here would stop the loop until the holder finished.
        with pytest.raises(OnEventLoopError):
            asyncio.run(asyncio.wait_for(write_on_the_loop(), timeout=5))
        holder.rollback()
    db.engine.dispose()


def test_sessions_still_work_off_the_loop(fresh_database: Settings) -> None:
    db = Database.from_settings(fresh_database, serving=True)
    try:
        with db.sessions() as session:
            assert session.scalar(text("SELECT 1")) == 1
    finally:
        db.engine.dispose()


def _takers_of_a_session(dependant: Dependant) -> list[Dependant]:
    """Return the dependants (the route's endpoint, its dependencies) that take a session."""
    found = []
    if any(d.call is get_session for d in dependant.dependencies):
        found.append(dependant)
    for sub in dependant.dependencies:
        found.extend(_takers_of_a_session(sub))
    return found


def test_every_route_that_takes_a_session_runs_in_the_thread_pool(app: FastAPI) -> None:
    takers = [
        (route.path, taker.call)
        for route in app.routes
        if isinstance(route, APIRoute)
        for taker in _takers_of_a_session(route.dependant)
    ]
    assert len(takers) > 60  # the check sees the routes
    on_the_loop = [
        f"{path}: {getattr(call, '__name__', call)}"
        for path, call in takers
        if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)
    ]
    assert on_the_loop == []


def test_routes_that_take_no_session_stay_on_the_loop(app: FastAPI) -> None:
    """A hand-off to the thread pool costs more than the prepared reads of the hot path
    (decision 0001): only what takes a session goes there."""
    takers = {
        taker.call
        for route in app.routes
        if isinstance(route, APIRoute)
        for taker in _takers_of_a_session(route.dependant)
    }

    def callables(dependant: Dependant) -> list[object]:
        found = [dependant.call] if dependant.call is not None else []
        return found + [c for sub in dependant.dependencies for c in callables(sub)]

    blocking = {
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in app.routes
        if isinstance(route, APIRoute)
        for call in callables(route.dependant)
        if call not in takers
        and call is not get_session
        and not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    }
    assert blocking == set()

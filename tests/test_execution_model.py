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

import anyio
import httpx
import pytest
from concurrent_writes import incident
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import text

from atalaya.accounts import service
from atalaya.accounts.deps import SessionRoute, get_session
from atalaya.app import create_app
from atalaya.db import Database, OnEventLoopError
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

URL = "/api/v1/incidents"


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


def test_every_route_commits_where_it_ran(app: FastAPI) -> None:
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert [r.path for r in routes if not isinstance(r, SessionRoute)] == []


def test_writers_finish_when_they_outnumber_the_thread_pool(fresh_database: Settings) -> None:
    """Six writers and six audited readers against a pool of two threads: a writer holding
    the writers' lock never needs another thread to let it go (issue 12's review found
    the node frozen for good at about 41 concurrent requests per worker)."""
    db = Database.from_settings(fresh_database, serving=True)
    app = create_app(fresh_database, db)
    with db.sessions() as session:
        user = service.get_user(session, "alice")
        token, _ = service.create_token(session, TEST_CONTEXT, user, days=1)
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []

    async def load() -> bool:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 2
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:

            async def write(i: int) -> None:
                body = incident(f"POOL-{i}")
                statuses.append((await client.post(URL, json=body, headers=headers)).status_code)

            async def read() -> None:
                statuses.append((await client.get(URL, headers=headers)).status_code)

            with anyio.move_on_after(60) as scope:
                async with anyio.create_task_group() as group:
                    for i in range(6):
                        group.start_soon(write, i)
                        group.start_soon(read)
            return not scope.cancelled_caught

    try:
        assert anyio.run(load), f"frozen: {len(statuses)} of 12 answered"
    finally:
        db.engine.dispose()
    assert sorted(statuses) == [200] * 6 + [201] * 6

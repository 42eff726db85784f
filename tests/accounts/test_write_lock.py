"""A request never awaits while holding SQLite's writers' lock.

Another request on the same event loop that starts writing waits for that lock with
the loop itself; if the first request needed the loop to finish, neither would.
``committed_in_thread`` commits in the worker thread, which hands the lock back.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from atalaya.accounts.deps import committed_in_thread
from atalaya.db import Database
from atalaya.settings import Settings


def lock_is_free(settings: Settings) -> bool:
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


def lock_after(settings: Settings, run: Callable[[Session, Callable[[], Any]], Any]) -> bool:
    """Start a write, finish it through ``run``; say whether the lock is then free."""
    db = Database.from_settings(settings)
    try:
        with db.sessions() as session:
            session.execute(text("SELECT 1"))  # the write transaction begins: lock taken
            assert not lock_is_free(settings)
            asyncio.run(run(session, lambda: session.execute(text("SELECT 1"))))
            free = lock_is_free(settings)
            session.rollback()
        return free
    finally:
        db.engine.dispose()


def test_committing_in_the_thread_hands_the_lock_back(fresh_database: Settings) -> None:
    if not fresh_database.database_url.startswith("sqlite"):
        pytest.skip("the writers' lock is SQLite's")

    async def committed(session: Session, work: Callable[[], Any]) -> Any:
        return await committed_in_thread(session, work)

    async def only_threaded(session: Session, work: Callable[[], Any]) -> Any:
        return await run_in_threadpool(work)

    assert lock_after(fresh_database, committed)
    assert not lock_after(fresh_database, only_threaded)  # what the helper prevents

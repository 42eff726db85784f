"""The deep health check, ``/healthz?deep=1``: the database's integrity (``integrity``),
checked off the event loop and at most every so often."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from atalaya import integrity
from atalaya.errors import DomainError

logger = logging.getLogger(__name__)

# How long an answer of the deep check stands, in seconds.
DEEP_INTERVAL = 30.0


class DeepHealth:
    """The integrity check behind ``/healthz?deep=1``, cheap to ask for: one check runs
    at a time in a worker thread, callers meanwhile share its answer, and an answer
    stands for ``interval`` seconds; so that a public route cannot be used to keep the
    database busy."""

    def __init__(self, engine: Engine, interval: float = DEEP_INTERVAL) -> None:
        self._engine = engine
        self._interval = interval
        self._answer: tuple[float, list[str]] | None = None
        self._running: asyncio.Future[list[str]] | None = None

    async def ensure(self) -> None:
        """Return if the database passed its check; raise ``DB-101`` otherwise, and log
        what is wrong (the answer, which anyone may read, does not say)."""
        if found := await self._problems():
            logger.error("the database failed its integrity check: %s", "; ".join(found[:20]))
            raise DomainError("DB-101")

    async def _problems(self) -> list[str]:
        if self._answer and time.monotonic() - self._answer[0] < self._interval:
            return self._answer[1]
        running, loop = self._running, asyncio.get_running_loop()
        if running is None or running.done() or running.get_loop() is not loop:
            running = self._running = loop.create_task(
                run_in_threadpool(integrity.problems, self._engine)
            )
        found = await asyncio.shield(running)
        self._answer = (time.monotonic(), found)
        return found

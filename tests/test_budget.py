"""A budget per request (issue 12, finding 2): a statement that runs too long is stopped
with a problem (503, ``API-111``) and a log line naming the route, and it runs in a
thread of the pool, so the worker's other requests are answered meanwhile."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from concurrent_writes import incident
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from atalaya.accounts import service
from atalaya.app import create_app
from atalaya.records import api as records_api
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

BUDGET = 1.5


def endless_summary(session: Session, *_: Any) -> list[Any]:
    """A summary whose statement never ends by itself (deliberately slow)."""
    if session.get_bind().dialect.name == "sqlite":
        endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        session.execute(text(endless + "SELECT count(*) FROM c"))
    else:
        session.execute(text("SELECT pg_sleep(600)"))
    return []


@pytest.fixture
def budgeted(fresh_database: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    settings = fresh_database.model_copy(update={"statement_timeout_seconds": BUDGET})
    app = create_app(settings)
    with app.state.runtime.db.sessions() as session:
        token, _ = service.create_token(
            session, TEST_CONTEXT, service.get_user(session, "bob"), days=1
        )
        session.commit()
    monkeypatch.setattr(records_api, "summarise", endless_summary)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
    app.state.runtime.db.engine.dispose()


def test_a_statement_past_the_budget_is_stopped_with_a_problem_naming_the_route(
    budgeted: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="atalaya.web.problems"):
        response = budgeted.get("/api/v1/incidents/summary", params={"by": "iccs"})
    assert time.monotonic() - started < BUDGET + 10
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "API-111"
    assert any("/api/v1/incidents/summary" in r.getMessage() for r in caplog.records)


def test_health_answers_within_a_second_while_a_slow_statement_runs(
    budgeted: TestClient,
) -> None:
    answers: list[httpx.Response] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            budgeted.get("/api/v1/incidents/summary", params={"by": "iccs"})
        )
    )
    slow.start()
    time.sleep(0.3)  # the slow statement is running
    timings = []
    for _ in range(3):
        started = time.monotonic()
        assert budgeted.get("/healthz").status_code == 200
        assert budgeted.get("/api/v1/me").status_code == 200
        timings.append(time.monotonic() - started)
    assert slow.is_alive()  # the answers came while it ran
    slow.join(30)
    assert max(timings) < 1.0
    assert answers[0].status_code == 503


@contextmanager
def writers_lock_held(fresh_database: Settings) -> Iterator[None]:
    """SQLite's writers' lock, held as a command would while it imports a large file."""
    path = fresh_database.database_url.removeprefix("sqlite:///") + ".writer-lock"
    holder = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(holder, fcntl.LOCK_UN)
        os.close(holder)


def alice(client: TestClient) -> dict[str, str]:
    app: Any = client.app
    with app.state.runtime.db.sessions() as session:
        user = service.get_user(session, "alice")
        token, _ = service.create_token(session, TEST_CONTEXT, user, days=1)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_writers_and_audited_readers_wait_for_the_writers_lock_only_within_the_budget(
    budgeted: TestClient, fresh_database: Settings
) -> None:
    """A command holding SQLite's writers' lock for minutes (a large import) costs the
    server's writers, and readers whose reads must be audited, an answer (API-111), not
    their threads for as long as it runs."""
    if not fresh_database.database_url.startswith("sqlite"):
        pytest.skip("the writers' lock is SQLite's")
    headers = alice(budgeted)
    with writers_lock_held(fresh_database):
        for send in (
            lambda: budgeted.post("/api/v1/incidents", json=incident("LOCKED-1"), headers=headers),
            lambda: budgeted.get("/api/v1/incidents", headers=headers),
        ):
            started = time.monotonic()
            refused = send()
            assert BUDGET <= time.monotonic() - started < BUDGET + 5
            assert (refused.status_code, refused.json()["code"]) == (503, "API-111")
    time.sleep(0.1)  # the audit writer's thread gives back the lock it got late
    recorded = budgeted.post("/api/v1/incidents", json=incident("LOCKED-1"), headers=headers)
    assert recorded.status_code == 201
    assert budgeted.get("/api/v1/incidents", headers=headers).status_code == 200

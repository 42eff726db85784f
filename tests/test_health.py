"""``/healthz``: cheap, for load balancers; ``/healthz?deep=1`` checks the database's
integrity too, off the event loop, and tells a damaged database by a 503."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from atalaya import integrity
from atalaya.app import create_app
from atalaya.settings import Settings
from test_app import assert_problem
from test_backup import SAID, damage, sqlite_only  # noqa: F401


def test_a_deep_health_check_answers_ok_for_a_sound_database(client: TestClient) -> None:
    response = client.get("/healthz", params={"deep": 1})
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.usefixtures("sqlite_only")
def test_a_damaged_database_passes_the_plain_check_and_fails_the_deep_one(
    fresh_database: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    damage(fresh_database)
    with TestClient(create_app(fresh_database)) as client:
        assert client.get("/healthz").status_code == 200
        with caplog.at_level(logging.ERROR, logger="atalaya.web.health"):
            response = client.get("/healthz", params={"deep": 1})
    problem = assert_problem(response, 503, "DB-101")
    assert not re.search(SAID, str(problem))  # anyone may ask: the answer says little
    assert re.search(SAID, caplog.text)  # the node's log says what is wrong


def test_the_deep_check_runs_off_the_event_loop_and_at_most_every_so_often(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[bool] = []

    def check(engine: object) -> list[str]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            runs.append(True)  # in a worker thread: no event loop here
        else:
            runs.append(False)
        return []

    monkeypatch.setattr(integrity, "problems", check)
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            assert client.get("/healthz", params={"deep": 1}).status_code == 200
    assert runs == [True]

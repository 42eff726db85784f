"""A real server with several worker processes: sessions and sign-in throttling hold
across processes, because they live in the database."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from atalaya.demo import DEMO_PASSWORD

pytestmark = pytest.mark.slow


def test_a_web_session_works_whichever_worker_answers(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        data = {"username": "alice", "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
        assert client.post("/login", data=data).status_code == 303
        for _ in range(20):
            assert client.get("/api/v1/me").json()["username"] == "alice"


def test_every_worker_logs_each_request_with_its_request_id(
    live_server: str, server_log: Path
) -> None:
    # A connection each, so that both workers answer some.
    ids = {httpx.get(f"{live_server}/healthz").headers["x-request-id"] for _ in range(40)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        logged = set(
            re.findall(
                r"INFO \[([0-9a-f]{32})\] atalaya.access: GET /healthz 200", server_log.read_text()
            )
        )
        if ids <= logged:
            break
        time.sleep(0.2)
    assert ids <= logged
    workers = set(re.findall(r"Started server process \[(\d+)\]", server_log.read_text()))
    assert len(workers) == 2


def test_failed_sign_ins_are_counted_across_workers(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        for _ in range(5):
            response = client.post(
                "/api/v1/auth/token", json={"username": "bob", "password": "wrong-one"}
            )
            assert response.status_code == 401
        locked = client.post(
            "/api/v1/auth/token", json={"username": "bob", "password": DEMO_PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["code"] == "AUTH-105"


def test_forwarded_headers_do_not_dodge_the_address_lock(live_server: str) -> None:
    """No proxy is trusted by default, not even one on 127.0.0.1 (uvicorn's own default):
    a client that writes X-Forwarded-For is still the address it calls from."""
    with httpx.Client(base_url=live_server) as client:
        for guess in range(5):
            response = client.post(
                "/api/v1/auth/token",
                json={"username": f"guess-{guess}", "password": "wrong-one"},
                headers={"X-Forwarded-For": f"198.51.100.{guess}"},
            )
            assert response.status_code == 401
        locked = client.post(
            "/api/v1/auth/token",
            json={"username": "alice", "password": DEMO_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.99"},
        )
        assert (locked.status_code, locked.json()["code"]) == (429, "AUTH-105")

"""A real server with several worker processes: sessions and sign-in throttling hold
across processes, because they live in the database."""

from __future__ import annotations

import re

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

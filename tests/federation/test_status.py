"""Operators see each peer's queue: depth, failures, last success, breaker; at
``GET /api/v1/federation/peers`` and ``/admin/federation``, administrators and auditors
only."""

from __future__ import annotations

import random

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import web_sign_in
from atalaya.db import Database
from atalaya.federation.agreements import Terms, add_agreement
from atalaya.federation.delivery import Worker
from atalaya.federation.models import Peer
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from test_app import assert_problem

from .test_delivery import Clock, FakePeer, problem, queue, tuned

URL = "/api/v1/federation/peers"


def test_operators_see_queue_depth_failures_and_last_success_per_peer(
    client: TestClient, auth, db: Database, session: Session, settings: Settings,
    peer: Peer,
) -> None:  # fmt: skip
    add_agreement(session, TEST_CONTEXT, Terms(send=["node:ping"]), peer=peer)
    queue(session, settings, peer, 4)
    answers = iter([problem(403, "FED-112")] + [FakePeer().answer] + [problem(503, "API-500")] * 9)
    fake = FakePeer(answer=lambda request: next(answers)(request))
    clock = Clock()
    with httpx.Client(transport=httpx.MockTransport(fake)) as http:
        Worker(db, tuned(settings), http, threads=1, clock=clock, rng=random.Random(3)).drain()  # noqa: S311

    for who in ("admin", "auditor"):
        response = client.get(URL, headers=auth(who))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["total"], body["next"]) == (1, None)
        (item,) = body["items"]
        assert item["node_id"] == "co-ponal"
        counts = {k: item[k] for k in ("queue_depth", "failed", "delivered")}
        assert counts == {"queue_depth": 2, "failed": 1, "delivered": 1}
        assert item["oldest_pending_attempts"] == 1
        assert item["last_success_at"] is not None
        assert item["last_error"].startswith("HTTP 503")
        assert (item["breaker"], item["consecutive_failures"]) == ("closed", 1)


def test_outsiders_do_not_see_the_queues(client: TestClient, auth, peer: Peer) -> None:
    assert_problem(client.get(URL), 401, "AUTH-101")
    assert_problem(client.get(URL, headers=auth("alice")), 403, "AUTH-111")


def test_the_federation_page_shows_the_queues_to_the_auditor_only(
    client: TestClient, peer: Peer
) -> None:
    web_sign_in(client, "alice")
    assert client.get("/admin/federation").status_code == 403
    assert 'href="/admin/federation"' not in client.get("/").text
    client.cookies.clear()
    assert web_sign_in(client, "auditor").status_code == 303
    page = client.get("/admin/federation")
    assert page.status_code == 200
    assert "co-ponal" in page.text and "closed" in page.text
    assert 'href="/admin/federation"' in page.text

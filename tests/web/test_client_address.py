"""The client's address, which sign-in locks count and the audit log records, cannot be
forged with X-Forwarded-For (issue 12, finding 6)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.app import create_app
from atalaya.audit.models import AuditEntry
from atalaya.db import Database
from atalaya.demo import DEMO_PASSWORD
from atalaya.settings import Settings
from conftest import make_settings

PROXY = "10.0.0.5"
URL = "/api/v1/auth/token"
WRONG = "wrong-one"


def proxied(settings: Settings) -> Settings:
    """The node's settings, with two trusted proxies: an address and a network."""
    trusted = [PROXY, "10.0.1.0/24"]
    return make_settings(settings.database_url, settings.data_dir, trusted_proxies=trusted)


@pytest.fixture
def behind_proxy(settings: Settings, db: Database) -> Iterator[TestClient]:
    """A client reaching the node through the trusted proxy."""
    with TestClient(create_app(proxied(settings), db), client=(PROXY, 40000)) as client:
        yield client


def last_login_address(session: Session) -> str | None:
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    return entry.client_address


def guess(client: TestClient, username: str, forwarded: str, password: str = WRONG):  # type: ignore[no-untyped-def]
    body = {"username": username, "password": password}
    return client.post(URL, json=body, headers={"X-Forwarded-For": forwarded})


def test_guesses_with_changing_forwarded_headers_still_lock_the_address(
    behind_proxy: TestClient,
) -> None:
    # The proxy appends the address it saw (203.0.113.7); the client writes the rest.
    for n in range(5):
        response = guess(behind_proxy, f"guess-{n}", f"198.51.100.{n}, 203.0.113.7")
        assert response.status_code == 401
    locked = guess(behind_proxy, "alice", "198.51.100.99, 203.0.113.7", DEMO_PASSWORD)
    assert (locked.status_code, locked.json()["code"]) == (429, "AUTH-105")
    other_client = guess(behind_proxy, "alice", "203.0.113.8", DEMO_PASSWORD)
    assert other_client.status_code == 201


def test_the_audit_log_records_the_address_the_last_trusted_proxy_saw(
    behind_proxy: TestClient, session: Session
) -> None:
    guess(behind_proxy, "alice", "1.2.3.4, 203.0.113.7, 10.0.1.9")
    assert last_login_address(session) == "203.0.113.7"
    behind_proxy.post(
        URL,
        json={"username": "alice", "password": "wrong-one"},
        headers=[("X-Forwarded-For", "1.2.3.4"), ("X-Forwarded-For", "203.0.113.8")],
    )
    assert last_login_address(session) == "203.0.113.8"


def test_a_forwarded_value_that_is_no_address_is_not_taken_for_one(
    behind_proxy: TestClient, session: Session
) -> None:
    guess(behind_proxy, "alice", "203.0.113.7, <script>")
    assert last_login_address(session) == PROXY


def test_without_trusted_proxies_the_header_is_ignored(
    client: TestClient, session: Session
) -> None:
    guess(client, "alice", "203.0.113.7")
    assert last_login_address(session) == "testclient"


def test_a_client_that_is_no_trusted_proxy_cannot_forward(
    settings: Settings, db: Database, session: Session
) -> None:
    with TestClient(create_app(proxied(settings), db), client=("192.0.2.1", 40000)) as direct:
        guess(direct, "alice", "203.0.113.7")
    assert last_login_address(session) == "192.0.2.1"


def test_forwarded_addresses_that_are_all_trusted_proxies_prove_nothing(
    behind_proxy: TestClient, session: Session
) -> None:
    # Whoever called the first proxy wrote the leftmost address: it names a proxy here,
    # but proves nothing, so the address is the peer's.
    guess(behind_proxy, "alice", "10.0.1.9, 10.0.1.7")
    assert last_login_address(session) == PROXY


def test_a_trusted_proxy_seen_over_ipv6_is_still_trusted(
    settings: Settings, db: Database, session: Session
) -> None:
    app = create_app(proxied(settings), db)
    with TestClient(app, client=("::ffff:10.0.0.5", 40000)) as client:
        guess(client, "alice", "203.0.113.7")
    assert last_login_address(session) == "203.0.113.7"

"""Signing in through the API: passwords, TOTP, throttling, token life cycle."""

from __future__ import annotations

import datetime as dt

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.models import ApiToken, User
from atalaya.audit.models import AuditEntry
from atalaya.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from test_app import assert_problem

URL = "/api/v1/auth/token"


def sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(URL, json={"username": username, "password": password, **extra})


def test_alice_signs_in_and_uses_the_token(client: TestClient) -> None:
    response = sign_in(client, "alice")
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token.startswith("atl_")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "alice"


def test_only_the_hash_of_a_token_is_stored(client: TestClient, session: Session) -> None:
    token = sign_in(client, "alice").json()["token"]
    rows = session.scalars(select(ApiToken.token_hash)).all()
    assert token not in rows
    assert all(len(h) == 64 for h in rows)


def test_a_wrong_password_is_a_401_problem_and_is_audited(
    client: TestClient, session: Session
) -> None:
    assert_problem(sign_in(client, "alice", "not-the-password"), 401, "AUTH-102")
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None
    assert (entry.action, entry.outcome, entry.object_id) == ("login", "failed", "alice")


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(client: TestClient) -> None:
    assert_problem(sign_in(client, "nobody-here"), 401, "AUTH-102")


def test_an_administrator_must_give_a_totp_code(client: TestClient) -> None:
    assert_problem(sign_in(client, "admin"), 401, "AUTH-103")


def test_a_wrong_totp_code_is_refused(client: TestClient) -> None:
    assert_problem(sign_in(client, "admin", totp="000000"), 401, "AUTH-104")
    assert_problem(sign_in(client, "admin", totp="not-a-code"), 401, "AUTH-104")


def test_a_right_totp_code_signs_in_once_and_cannot_be_replayed(client: TestClient) -> None:
    code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
    assert sign_in(client, "admin", totp=code).status_code == 201
    assert_problem(sign_in(client, "admin", totp=code), 401, "AUTH-104")


def test_a_role_that_requires_totp_cannot_sign_in_before_enrolling(
    client: TestClient, session: Session
) -> None:
    carmen = session.scalar(select(User).where(User.username == "carmen"))
    assert carmen is not None
    carmen.totp_secret = None
    session.commit()
    assert_problem(sign_in(client, "carmen"), 403, "AUTH-113")


def test_five_failures_lock_the_account_for_everyone(client: TestClient) -> None:
    for _ in range(5):
        assert_problem(sign_in(client, "bob", "wrong-password"), 401, "AUTH-102")
    locked = assert_problem(sign_in(client, "bob"), 429, "AUTH-105")
    assert "15" in locked["detail"]
    other_address = TestClient(client.app, base_url="http://127.0.0.1", client=("10.9.9.9", 5000))
    assert_problem(sign_in(other_address, "bob"), 429, "AUTH-105")


def test_five_failures_from_one_address_lock_that_address(client: TestClient) -> None:
    for name in ("u1", "u2", "u3", "u4", "u5"):
        sign_in(client, name, "wrong-password")
    response = sign_in(client, "alice")
    assert_problem(response, 429, "AUTH-105")
    assert int(response.headers["retry-after"]) > 0
    elsewhere = TestClient(client.app, base_url="http://127.0.0.1", client=("10.8.8.8", 5000))
    assert sign_in(elsewhere, "alice").status_code == 201


def test_the_lock_ends_after_the_lockout_period(client: TestClient, session: Session) -> None:
    from atalaya.accounts.models import Lockout, LoginFailure

    for _ in range(5):
        sign_in(client, "bob", "wrong-password")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    for lock in session.scalars(select(Lockout)):
        lock.until = past
    for failure in session.scalars(select(LoginFailure)):
        failure.at = past
    session.commit()
    assert sign_in(client, "bob").status_code == 201


def test_an_expired_token_is_refused(client: TestClient, session: Session, token_for) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice")
    row = session.scalars(select(ApiToken).order_by(ApiToken.id.desc())).first()
    assert row is not None
    row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    session.commit()
    assert_problem(
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "AUTH-106"
    )


def test_a_revoked_token_is_refused_at_once(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("alice")
    created = client.post("/api/v1/tokens", json={"name": "script", "days": 2}, headers=headers)
    assert created.status_code == 201
    other = {"Authorization": f"Bearer {created.json()['token']}"}
    assert client.get("/api/v1/me", headers=other).status_code == 200
    assert (
        client.delete(f"/api/v1/tokens/{created.json()['id']}", headers=headers).status_code == 204
    )
    assert_problem(client.get("/api/v1/me", headers=other), 401, "AUTH-107")


def test_a_made_up_token_is_refused(client: TestClient) -> None:
    headers = {"Authorization": "Bearer atl_made-up"}
    assert_problem(client.get("/api/v1/me", headers=headers), 401, "AUTH-108")


def test_a_disabled_user_cannot_use_their_token(
    client: TestClient, session: Session, token_for
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice")
    alice = session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None
    alice.active = False
    session.commit()
    assert_problem(
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 403, "AUTH-114"
    )


def test_token_lifetime_is_bounded(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/tokens", json={"days": 9999}, headers=auth("alice"))
    assert_problem(response, 422, "API-104")


def test_a_user_lists_only_their_own_tokens(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    auth("bob")
    listed = client.get("/api/v1/tokens", headers=auth("alice")).json()
    assert listed["total"] == len(listed["items"]) == 1
    assert "token" not in listed["items"][0]


def test_a_sign_in_clears_out_expired_sessions_and_locks(
    client: TestClient, session: Session
) -> None:
    from atalaya.accounts.models import Lockout, WebSession

    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    bob = session.scalar(select(User).where(User.username == "bob"))
    assert bob is not None
    session.add(WebSession(key_hash="x" * 64, user_id=bob.id, expires_at=past))
    session.add(Lockout(kind="address", key="10.1.1.1", until=past))
    session.commit()
    assert sign_in(client, "alice").status_code == 201
    session.expire_all()
    assert session.scalars(select(WebSession).where(WebSession.key_hash == "x" * 64)).all() == []
    assert session.scalars(select(Lockout)).all() == []

"""The token holders a process keeps (``profiles.HolderCache``) and the credential epoch
that validates them: a holder once seen must never outlive a change that concerns it,
whoever makes the change and in whichever process."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from atalaya.accounts import profiles
from atalaya.accounts.models import CredentialEpoch
from atalaya.accounts.profiles import HolderCache, ProfileCache
from atalaya.errors import DomainError
from test_app import assert_problem


def epoch(session: Session) -> int:
    value = session.get(CredentialEpoch, 1, populate_existing=True)
    assert value is not None
    return value.value


def run(session: Session, sql: str) -> None:
    session.execute(text(sql))
    session.commit()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each full look-up of a token holder (the five-table join)."""
    calls: list[str] = []
    original = profiles._holder

    def spy(connection, digest):  # type: ignore[no-untyped-def]
        calls.append(digest)
        return original(connection, digest)

    monkeypatch.setattr(profiles, "_holder", spy)
    return calls


def test_a_seen_token_is_not_joined_again_while_nothing_changes(
    connection: Connection, token_for, counted: list[str]
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice")
    cache = HolderCache()
    first = cache.principal(connection, token)
    assert cache.principal(connection, token) == first
    assert cache.principal(connection, token).username == "alice"
    assert len(counted) == 1


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP", "AUTH-107"),
        ("DELETE FROM api_tokens", "AUTH-108"),
        ("UPDATE users SET active = false WHERE username = 'alice'", "AUTH-114"),
    ],
)
def test_a_change_made_in_plain_sql_refuses_a_cached_token_at_once(
    client: TestClient, session: Session, token_for, change: str, code: str
) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token_for('alice')}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    run(session, change)
    assert_problem(
        client.get("/api/v1/me", headers=headers), 401 if code != "AUTH-114" else 403, code
    )


def test_new_roles_and_jurisdictions_reach_a_cached_holder(
    connection: Connection, session: Session, token_for
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice")
    cache = HolderCache()
    before = cache.principal(connection, token)
    run(
        session,
        f"INSERT INTO user_roles (user_id, role) VALUES ({before.user_id}, 'analyst')",
    )
    assert {r.value for r in cache.principal(connection, token).roles} == {
        *(r.value for r in before.roles),
        "analyst",
    }
    run(session, f"UPDATE agencies SET area_code = 'MX' WHERE id = {before.agency_id}")
    assert cache.principal(connection, token).jurisdiction_path != before.jurisdiction_path
    run(session, f"UPDATE agencies SET code = 'MX-RENAMED' WHERE id = {before.agency_id}")
    assert cache.principal(connection, token).agency_code == "MX-RENAMED"


def test_two_processes_caches_both_see_a_revocation(
    connection: Connection, session: Session, token_for
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice")
    one, two = HolderCache(), HolderCache()
    one.principal(connection, token)
    two.principal(connection, token)
    run(session, "UPDATE api_tokens SET revoked_at = CURRENT_TIMESTAMP")
    for cache in (one, two):
        with pytest.raises(DomainError) as refused:
            cache.principal(connection, token)
        assert refused.value.code == "AUTH-107"
        assert not cache._entries  # a holder found stale is not kept either


def test_a_cached_token_expires_on_time_without_any_change(
    connection: Connection, token_for, monkeypatch: pytest.MonkeyPatch, counted: list[str]
) -> None:  # type: ignore[no-untyped-def]
    token = token_for("alice", days=1)
    cache = HolderCache()
    cache.principal(connection, token)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1, seconds=1)
    monkeypatch.setattr(profiles, "utcnow", lambda: later)
    with pytest.raises(DomainError) as refused:
        cache.principal(connection, token)
    assert refused.value.code == "AUTH-106"
    assert len(counted) == 1  # refused from the cache: the token itself did not change


def test_refused_tokens_are_not_kept(connection: Connection) -> None:
    cache = HolderCache()
    with pytest.raises(DomainError):
        cache.principal(connection, "atl_made-up")
    assert not cache._entries


def test_the_cache_is_bounded(connection: Connection, token_for) -> None:  # type: ignore[no-untyped-def]
    cache = HolderCache(size=2)
    tokens = [token_for(name) for name in ("alice", "bob", "charlie")]
    for token in tokens:
        cache.principal(connection, token)
    assert len(cache._entries) == 2
    assert cache.principal(connection, tokens[0]).username == "alice"


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE api_tokens SET expires_at = expires_at",
        "UPDATE users SET username = username",
        "UPDATE users SET language = 'es'",
        "UPDATE users SET full_name = 'Someone Else' WHERE username = 'alice'",
        "UPDATE users SET totp_secret = 'x' WHERE username = 'alice'",
        "DELETE FROM user_roles WHERE role = 'auditor'",
        "UPDATE agencies SET level = level",
        "UPDATE areas SET path = path WHERE code = 'MX'",
    ],
)
def test_every_change_to_what_a_holder_is_made_of_bumps_the_epoch(
    session: Session, token_for, change: str
) -> None:  # type: ignore[no-untyped-def]
    token_for("alice")
    before = epoch(session)
    run(session, change)
    assert epoch(session) > before


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE users SET totp_last_step = 1",
        "UPDATE users SET password_hash = password_hash",
        "UPDATE agencies SET name = 'Another name'",
        "UPDATE areas SET name = name WHERE code = 'MX'",
    ],
)
def test_changes_a_holder_does_not_depend_on_leave_the_epoch(session: Session, change: str) -> None:
    before = epoch(session)
    run(session, change)
    assert epoch(session) == before


def test_reading_audited_data_leaves_the_epoch(client: TestClient, session: Session, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("alice")
    before = epoch(session)
    for _ in range(3):
        assert client.get("/api/v1/users/alice", headers=headers).status_code == 200
    assert epoch(session) == before


# Profiles (``profiles.ProfileCache``) ------------------------------------------------


@pytest.fixture
def profile_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record each read of a profile from its tables."""
    calls: list[str] = []
    original = profiles.user_profile

    def spy(connection, username):  # type: ignore[no-untyped-def]
        calls.append(username)
        return original(connection, username)

    monkeypatch.setattr(profiles, "user_profile", spy)
    return calls


def test_a_profile_is_read_once_while_nothing_changes(
    connection: Connection, profile_reads: list[str]
) -> None:
    cache = ProfileCache()
    first = cache.profile(connection, "alice")
    assert cache.profile(connection, "alice") == first
    assert first.username == "alice" and isinstance(first.roles, tuple)
    assert profile_reads == ["alice"]


@pytest.mark.parametrize(
    ("change", "seen"),
    [
        (
            "UPDATE users SET full_name = 'Alicia Otra' WHERE username = 'alice'",
            lambda p: p.full_name == "Alicia Otra",
        ),
        (
            "UPDATE users SET totp_secret = 'enrolled' WHERE username = 'alice'",
            lambda p: p.second_factor,
        ),
        ("UPDATE users SET active = false WHERE username = 'alice'", lambda p: not p.active),
        (
            "INSERT INTO user_roles (user_id, role) SELECT id, 'analyst' FROM users "
            "WHERE username = 'alice'",
            lambda p: "analyst" in p.roles,
        ),
        (
            "UPDATE agencies SET code = 'MX-NEW' WHERE code = 'MX-SSPM-JUA'",
            lambda p: p.agency == "MX-NEW",
        ),
        (
            "UPDATE users SET agency_id = (SELECT id FROM agencies WHERE code = 'MX-SSPC') "
            "WHERE username = 'alice'",
            lambda p: p.agency == "MX-SSPC",
        ),
        (
            "UPDATE areas SET path = '/MX/MX-CHH/X/' WHERE code = 'MX-08-037'",
            lambda p: p.scope.area_path == "/MX/MX-CHH/X/",
        ),
    ],
)
def test_every_change_to_a_profile_reaches_a_cached_one(
    connection: Connection, change: str, seen
) -> None:  # type: ignore[no-untyped-def]
    cache = ProfileCache()
    before = cache.profile(connection, "alice")
    assert not seen(before)
    connection.execute(text(change))
    assert seen(cache.profile(connection, "alice"))


def test_two_processes_profile_caches_both_see_a_change(connection: Connection) -> None:
    one, two = ProfileCache(), ProfileCache()
    one.profile(connection, "alice"), two.profile(connection, "alice")
    connection.execute(text("UPDATE users SET full_name = 'A. H.' WHERE username = 'alice'"))
    assert one.profile(connection, "alice").full_name == "A. H."
    assert two.profile(connection, "alice").full_name == "A. H."


def test_an_unknown_user_is_refused_and_not_kept(connection: Connection) -> None:
    cache = ProfileCache()
    with pytest.raises(DomainError) as refused:
        cache.profile(connection, "nobody")
    assert refused.value.code == "ACC-109"
    assert "nobody" not in cache._entries


def test_a_removed_user_is_forgotten(connection: Connection) -> None:
    cache = ProfileCache()
    cache.profile(connection, "alice")
    connection.execute(text("UPDATE users SET username = 'alice2' WHERE username = 'alice'"))
    with pytest.raises(DomainError):
        cache.profile(connection, "alice")
    assert "alice" not in cache._entries
    assert cache.profile(connection, "alice2").username == "alice2"


def test_the_profile_cache_is_bounded(connection: Connection) -> None:
    cache = ProfileCache(size=2)
    for name in ("alice", "bob", "charlie"):
        cache.profile(connection, name)
    assert len(cache._entries) == 2
    assert cache.profile(connection, "alice").username == "alice"


def test_the_api_shows_a_new_full_name_at_once(client: TestClient, session: Session, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("alice")
    assert client.get("/api/v1/users/alice", headers=headers).json()["full_name"] != "Nueva"
    run(session, "UPDATE users SET full_name = 'Nueva' WHERE username = 'alice'")
    assert client.get("/api/v1/users/alice", headers=headers).json()["full_name"] == "Nueva"
    assert client.get("/api/v1/me", headers=headers).json()["full_name"] == "Nueva"

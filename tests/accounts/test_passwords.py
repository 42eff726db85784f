"""Passwords are checked against zxcvbn's lists of common and breached passwords and
its patterns, with the user's own names as words an attacker tries first (issue 12,
finding 9)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.test_sign_in_api import sign_in
from atalaya.accounts.models import User
from test_app import assert_problem


def new_user(password: str, **fields: object) -> dict[str, object]:
    return {
        "username": "ximena",
        "full_name": "Ximena Quintanilla Zubiría",
        "agency": "MX-SSPC",
        "roles": ["administrator"],
        "password": password,
        **fields,
    }


def users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0


def test_a_repeated_character_is_refused_with_advice(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    session: Session,
) -> None:
    before = users(session)
    response = client.post("/api/v1/users", json=new_user("aaaaaaaaaaaa"), headers=auth("admin"))
    problem = assert_problem(response, 422, "ACC-114")
    assert problem["errors"] == [
        {
            "field": "password",
            "code": "ACC-114",
            "message": 'This password is too easy to guess. Repeats like "aaa" are easy to guess.',
        }
    ]
    assert users(session) == before


def test_common_and_breached_passwords_are_refused(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    for password in ("password1234", "qwertyuiop123", "1234567890", "iloveyou2020"):
        response = client.post("/api/v1/users", json=new_user(password), headers=auth("admin"))
        assert_problem(response, 422, "ACC-114")


def test_the_users_own_names_count_as_easy_words(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    # Strong for a stranger, weak for Ximena Quintanilla: her name is what is tried first.
    response = client.post(
        "/api/v1/users", json=new_user("ximenaquintanilla"), headers=auth("admin")
    )
    assert_problem(response, 422, "ACC-114")
    stranger = new_user("ximenaquintanilla", username="pablo", full_name="Pablo Ortiz")
    assert client.post("/api/v1/users", json=stranger, headers=auth("admin")).status_code == 201


def test_the_advice_comes_in_the_callers_language(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("admin") | {"Accept-Language": "es"}
    response = client.post("/api/v1/users", json=new_user("password1234"), headers=headers)
    problem = assert_problem(response, 422, "ACC-114")
    assert problem["detail"] == (
        "Esta contraseña es demasiado fácil de adivinar. Es una contraseña muy común."
    )


def test_a_long_password_is_measured_and_a_short_one_still_refused(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    headers = auth("admin")
    assert_problem(
        client.post("/api/v1/users", json=new_user("a" * 200), headers=headers), 422, "ACC-114"
    )
    assert_problem(
        client.post("/api/v1/users", json=new_user("Zx9!q"), headers=headers), 422, "ACC-107"
    )
    strong = new_user("ribbed lantern quarry " * 10)
    assert client.post("/api/v1/users", json=strong, headers=headers).status_code == 201


def test_a_user_made_with_a_strong_password_signs_in_with_it(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    body = new_user("ribbed-lantern-quarry-53", roles=["administrator"])
    assert client.post("/api/v1/users", json=body, headers=auth("admin")).status_code == 201
    # An administrator owes a second factor: the password itself was right.
    assert_problem(sign_in(client, "ximena", "ribbed-lantern-quarry-53"), 403, "AUTH-113")


def test_the_demo_users_keep_their_published_password(client: TestClient) -> None:
    assert sign_in(client, "alice").status_code == 201

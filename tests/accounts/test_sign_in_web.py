"""Signing in through the browser: CSRF on every form, TOTP step, enrollment, cookies."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.models import User
from atalaya.app import create_app
from atalaya.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from test_app import assert_problem


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "form without a CSRF token"
    return match.group(1)


def offer_from(html: str) -> str:
    match = re.search(r'name="offer" value="([^"]+)"', html)
    assert match
    return match.group(1)


def web_sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def test_alice_signs_in_and_sees_her_home_page(client: TestClient) -> None:
    response = web_sign_in(client, "alice")
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    home = client.get("/")
    assert home.status_code == 200
    assert "Alicia Hernández" in home.text
    assert "Juárez" in home.text


def test_the_home_page_differs_by_role(client: TestClient) -> None:
    web_sign_in(client, "auditor")
    assert 'href="/audit"' in client.get("/").text
    client.cookies.clear()
    web_sign_in(client, "alice")
    assert 'href="/audit"' not in client.get("/").text


def test_a_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "alice", "password": DEMO_PASSWORD})
    assert response.status_code == 403
    assert "AUTH-110" in response.text
    assert "atalaya_session" not in client.cookies


def test_a_csrf_token_from_another_browser_is_refused(client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    other = TestClient(app, base_url="http://127.0.0.1")
    token = csrf_from(other.get("/login").text)
    client.get("/login")
    response = client.post(
        "/login", data={"username": "alice", "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 403


def test_a_wrong_password_shows_a_message_and_no_session(client: TestClient) -> None:
    response = web_sign_in(client, "alice", "wrong-password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.text
    assert "atalaya_session" not in client.cookies


def test_the_administrator_passes_the_totp_step(client: TestClient) -> None:
    response = web_sign_in(client, "admin")
    assert response.headers["location"] == "/login/totp"
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    page = client.get("/login/totp")
    wrong = client.post("/login/totp", data={"code": "123456", "csrf_token": csrf_from(page.text)})
    assert wrong.status_code == 401
    assert 'aria-invalid="true"' in wrong.text
    code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
    done = client.post(
        "/login/totp",
        data={"code": code, "csrf_token": csrf_from(wrong.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/"
    assert "Administración Atalaya" in client.get("/").text


def test_an_unverified_session_cannot_use_the_api(client: TestClient) -> None:
    web_sign_in(client, "admin")
    assert_problem(client.get("/api/v1/me"), 401, "AUTH-103")


def test_a_central_authority_without_totp_must_enroll(client: TestClient, session: Session) -> None:
    carmen = session.scalar(select(User).where(User.username == "carmen"))
    assert carmen is not None
    carmen.totp_secret = None
    session.commit()
    assert web_sign_in(client, "carmen").headers["location"] == "/login/enroll"
    page = client.get("/login/enroll")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text)
    assert secret and 'src="data:image/svg+xml;base64,' in page.text
    code = pyotp.TOTP(secret.group(1)).now()
    done = client.post(
        "/login/enroll",
        data={"code": code, "csrf_token": csrf_from(page.text), "offer": offer_from(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/"
    session.refresh(carmen)
    assert carmen.totp_secret is not None and secret.group(1) not in carmen.totp_secret


def test_a_forged_session_cookie_is_a_clear_error(client: TestClient) -> None:
    client.cookies.set("atalaya_session", "forged.value")
    assert_problem(client.get("/api/v1/me"), 401, "AUTH-109")
    page = client.get("/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login"


def test_a_cookie_session_needs_the_csrf_header_for_api_writes(client: TestClient) -> None:
    web_sign_in(client, "alice")
    assert client.get("/api/v1/me").status_code == 200
    assert_problem(client.post("/api/v1/tokens", json={"days": 1}), 403, "AUTH-110")
    token = csrf_from(client.get("/").text)
    created = client.post("/api/v1/tokens", json={"days": 1}, headers={"X-CSRF-Token": token})
    assert created.status_code == 201


def test_signing_out_ends_the_session(client: TestClient) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/").text)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_the_language_switch_translates_the_pages(client: TestClient, session: Session) -> None:
    web_sign_in(client, "alice")
    token = csrf_from(client.get("/").text)
    client.post("/language", data={"language": "es", "next": "/", "csrf_token": token})
    home = client.get("/")
    assert '<html lang="es">' in home.text
    assert "Bienvenid" in home.text
    alice = session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.language == "es"


def test_an_anonymous_visitor_can_switch_language_too(client: TestClient) -> None:
    token = csrf_from(client.get("/login").text)
    client.post("/language", data={"language": "fr", "next": "/login", "csrf_token": token})
    assert '<html lang="fr">' in client.get("/login").text


def test_the_language_switch_refuses_unknown_languages_and_offsite_redirects(
    client: TestClient,
) -> None:
    token = csrf_from(client.get("/login").text)
    bad = client.post("/language", data={"language": "xx", "csrf_token": token})
    assert bad.status_code == 422
    offsite = client.post(
        "/language",
        data={"language": "es", "next": "//evil.example", "csrf_token": token},
        follow_redirects=False,
    )
    assert offsite.headers["location"] == "/"


def test_pages_are_accessible_in_structure(client: TestClient) -> None:
    html = client.get("/login").text
    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    for field in ("username", "password", "language-select"):
        assert f'<label for="{field}">' in html
    assert "http://" not in html.replace('href="http://127.0.0.1', "") and "https://" not in html


def test_an_enrollment_offer_cannot_be_forged_or_reused_by_another_user(
    client: TestClient, session: Session, app
) -> None:  # type: ignore[no-untyped-def]
    for name in ("carmen", "admin"):
        user = session.scalar(select(User).where(User.username == name))
        assert user is not None
        user.totp_secret = None
    session.commit()
    other = TestClient(app, base_url="http://127.0.0.1")
    web_sign_in(other, "admin")
    admins_offer = offer_from(other.get("/login/enroll").text)
    web_sign_in(client, "carmen")
    page = client.get("/login/enroll")
    for offer in (admins_offer, "forged-offer"):
        response = client.post(
            "/login/enroll",
            data={"code": "123456", "csrf_token": csrf_from(page.text), "offer": offer},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/login/enroll"
    session.expire_all()
    carmen = session.scalar(select(User).where(User.username == "carmen"))
    assert carmen is not None and carmen.totp_secret is None


def test_a_user_creates_sees_once_and_revokes_a_token_on_the_web(client: TestClient) -> None:
    web_sign_in(client, "alice")
    page = client.get("/account/tokens")
    assert page.status_code == 200
    created = client.post(
        "/account/tokens", data={"name": "laptop", "days": "7", "csrf_token": csrf_from(page.text)}
    )
    token = re.search(r'<code class="secret">(atl_[^<]+)</code>', created.text)
    assert token, "the new token is shown once"
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    listing = client.get("/account/tokens")
    assert token.group(1) not in listing.text and "laptop" in listing.text
    token_id = re.search(r'action="/account/tokens/(\d+)/revoke"', listing.text)
    assert token_id
    client.post(
        f"/account/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf_from(listing.text)}
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_token_with_a_bad_lifetime_is_refused_beside_its_field(client: TestClient) -> None:
    web_sign_in(client, "alice")
    page = client.get("/account/tokens")
    for days in ("0", "soon", "9999"):
        response = client.post(
            "/account/tokens", data={"days": days, "csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 422
        assert 'id="days-error"' in response.text and "atl_" not in response.text


def test_nobody_revokes_another_users_token_on_the_web(client: TestClient, app, auth) -> None:  # type: ignore[no-untyped-def]
    auth("alice")
    other = TestClient(app, base_url="http://127.0.0.1")
    web_sign_in(other, "alice")
    alices = re.search(r'action="/account/tokens/(\d+)/revoke"', other.get("/account/tokens").text)
    assert alices
    web_sign_in(client, "charlie")
    page = client.get("/account/tokens")
    response = client.post(
        f"/account/tokens/{alices.group(1)}/revoke", data={"csrf_token": csrf_from(page.text)}
    )
    assert response.status_code == 404
    assert "/revoke" in other.get("/account/tokens").text


def test_the_second_factor_gives_a_new_session_id_and_ends_the_old_one(
    client: TestClient,
) -> None:
    web_sign_in(client, "admin")
    before = client.cookies["atalaya_session"]
    page = client.get("/login/totp")
    code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
    client.post("/login/totp", data={"code": code, "csrf_token": csrf_from(page.text)})
    after = client.cookies["atalaya_session"]
    assert after != before
    assert "Administración Atalaya" in client.get("/").text
    # Whoever saw or planted the id before the second factor holds nothing.
    client.cookies.set("atalaya_session", before)
    assert_problem(client.get("/api/v1/me"), 401, "AUTH-109")
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_enrolling_the_second_factor_gives_a_new_session_id_too(
    client: TestClient, session: Session
) -> None:
    carmen = session.scalar(select(User).where(User.username == "carmen"))
    assert carmen is not None
    carmen.totp_secret = None
    session.commit()
    web_sign_in(client, "carmen")
    before = client.cookies["atalaya_session"]
    page = client.get("/login/enroll")
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text)
    assert secret
    data = {"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": csrf_from(page.text),
            "offer": offer_from(page.text)}  # fmt: skip
    client.post("/login/enroll", data=data)
    assert client.cookies["atalaya_session"] != before
    client.cookies.set("atalaya_session", before)
    assert_problem(client.get("/api/v1/me"), 401, "AUTH-109")


def test_cookies_are_secure_when_the_public_url_is_https_behind_a_proxy(settings, db) -> None:  # type: ignore[no-untyped-def]
    """TLS ends at the proxy: the request arrives as plain HTTP, the browser used HTTPS."""
    tls = settings.model_copy(update={"public_url": "https://atalaya.example"})
    with TestClient(create_app(tls, db), base_url="http://127.0.0.1") as client:
        login_page = client.get("/login")
        csrf_cookie = login_page.headers["set-cookie"]
        assert csrf_cookie.startswith("atalaya_csrf=") and "Secure" in csrf_cookie
        # The browser sends back over HTTPS what this plain-HTTP client would not.
        form = {"username": "alice", "password": DEMO_PASSWORD,
                "csrf_token": csrf_from(login_page.text)}  # fmt: skip
        cookie = {"Cookie": csrf_cookie.split(";")[0]}
        signed_in = client.post("/login", data=form, headers=cookie, follow_redirects=False)
        session_cookie = signed_in.headers["set-cookie"]
        assert session_cookie.startswith("atalaya_session=") and "Secure" in session_cookie

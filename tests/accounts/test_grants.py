"""Who may create agencies, users (and so grant roles) and tokens: every route that does,
for every persona (issue 12, finding 3).

Besides the demo personas, ``mara`` is an administrator (and officer) of agency A, the
Juárez municipal police: the attacker of the finding, a municipal administrator who
created a child agency of level ``federal`` and a user in it, who then read a restricted
incident of the state. ``MX-FED-JUA`` is a federal agency's office in Juárez, added by
the node's operator: in mara's area, but ranked above her agency.

Each expected outcome is ``"<status> <code>"`` (or the status alone for a success).
For the browser's pages an anonymous visitor ("401") is sent to the sign-in page.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import csrf_from, web_sign_in
from atalaya.accounts import service
from atalaya.accounts.credentials import Credentials
from atalaya.accounts.models import Agency, ApiToken, User
from atalaya.demo import DEMO_PASSWORD, DEMO_TOTP_SECRET
from conftest import TEST_CONTEXT

PERSONAS = ("alice", "bob", "charlie", "diana", "admin", "auditor", "carmen", "mara", "anonymous")
WITH_TOTP = {"admin", "carmen", "mara"}
PASSWORD = "ribbed-lantern-quarry-53"


@dataclass(frozen=True)
class Case:
    """A request to one route, and what each persona gets from it."""

    route: str
    method: str
    path: str
    body: dict[str, Any] | None
    # persona -> outcome; "*" for every signed-in persona not named.
    outcomes: dict[str, str] = field(default_factory=dict)

    def expected(self, persona: str) -> str:
        if persona == "anonymous":
            return self.outcomes.get("anonymous", "401 AUTH-101")
        return self.outcomes.get(persona, self.outcomes["*"])


def agency(**fields: object) -> dict[str, object]:
    return {"code": "MX-NEW", "name": "Nueva agencia", **fields}


def user(agency: str, *roles: str) -> dict[str, object]:
    return {
        "username": "nuevo",
        "full_name": "Nuevo Usuario",
        "agency": agency,
        "roles": list(roles),
        "password": PASSWORD,
    }


NO_ROLE = "403 AUTH-111"

API_CASES = [
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="municipal", area="MX-08-037", parent="MX-SSPM-JUA"),
        {"admin": "201", "mara": "201", "*": NO_ROLE},
    ),
    # The finding: a federal agency under a municipal one, made by a municipal admin.
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="federal", area="MX-08-037", parent="MX-SSPM-JUA"),
        {"admin": "422 ACC-112", "mara": "403 ACC-111", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="federal", area="MX-08-037"),
        {"admin": "201", "mara": "403 ACC-111", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="central_authority", area="MX-08-037"),
        {"admin": "201", "mara": "403 ACC-111", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="state", area="MX-CHH", parent="MX-SSPC"),
        {"admin": "201", "mara": "403 AUTH-112", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/agencies",
        "POST",
        "/api/v1/agencies",
        agency(level="municipal", area="CO-11-001"),
        {"admin": "403 AUTH-112", "mara": "403 AUTH-112", "*": NO_ROLE},
    ),
    # Users, and the roles they are granted: only roles the granter holds, in an agency
    # of the granter's own or ranked below it in their area.
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-SSPM-JUA", "officer"),
        {"admin": "403 ACC-113", "mara": "201", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-SSPM-JUA", "administrator", "officer"),
        {"admin": "403 ACC-113", "mara": "201", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-SSPM-JUA", "administrator"),
        {"admin": "201", "mara": "201", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-SSPC", "auditor"),
        {"admin": "403 ACC-113", "mara": "422 ACC-101", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-SSPC", "administrator"),
        {"admin": "201", "mara": "422 ACC-101", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-FED-JUA", "administrator"),
        {"admin": "403 AUTH-112", "mara": "403 AUTH-112", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-FGR", "administrator"),
        {"admin": "403 AUTH-112", "mara": "422 ACC-101", "*": NO_ROLE},
    ),
    Case(
        "POST /api/v1/users",
        "POST",
        "/api/v1/users",
        user("MX-CPM-GDL", "administrator"),
        {"admin": "201", "mara": "422 ACC-101", "*": NO_ROLE},
    ),
    # Tokens: everyone makes and revokes their own; an administrator revokes those of
    # the users whose profiles they may read; any other token is as if missing.
    Case("POST /api/v1/tokens", "POST", "/api/v1/tokens", {"name": "script"}, {"*": "201"}),
    Case("DELETE /api/v1/tokens/{token_id}", "DELETE", "/api/v1/tokens/{own}", None, {"*": "204"}),
    Case(
        "DELETE /api/v1/tokens/{token_id}",
        "DELETE",
        "/api/v1/tokens/{alice}",
        None,
        {"alice": "204", "admin": "204", "mara": "204", "*": "404 API-106"},
    ),
    Case(
        "DELETE /api/v1/tokens/{token_id}",
        "DELETE",
        "/api/v1/tokens/{carmen}",
        None,
        {"carmen": "204", "*": "404 API-106"},
    ),
    Case(
        "DELETE /api/v1/tokens/{token_id}",
        "DELETE",
        "/api/v1/tokens/999999",
        None,
        {"*": "404 API-106"},
    ),
    Case(
        "POST /api/v1/auth/token",
        "POST",
        "/api/v1/auth/token",
        None,  # the persona's own credentials
        {"*": "201", "anonymous": "401 AUTH-102"},
    ),
]

WEB_CASES = [
    Case("POST /account/tokens", "POST", "/account/tokens", {"name": "laptop"}, {"*": "200"}),
    Case(
        "POST /account/tokens/{token_id}/revoke",
        "POST",
        "/account/tokens/{own}/revoke",
        None,
        {"*": "303 /account/tokens"},
    ),
    Case(
        "POST /account/tokens/{token_id}/revoke",
        "POST",
        "/account/tokens/{alice}/revoke",
        None,
        {"alice": "303 /account/tokens", "*": "404 API-106"},
    ),
]


@pytest.fixture
def world(session: Session, credentials: Credentials) -> None:
    """Add mara and the federal office in Juárez, as the node's operator would."""
    service.create_agency(
        session,
        TEST_CONTEXT,
        code="MX-FED-JUA",
        name="Oficina federal en Juárez",
        level="federal",
        area="MX-08-037",
        parent="MX-SSPC",
    )
    mara = service.create_user(
        session,
        TEST_CONTEXT,
        credentials,
        username="mara",
        full_name="Mara Estrada",
        agency="MX-SSPM-JUA",
        roles=["administrator", "officer"],
        password=PASSWORD,
    )
    mara.totp_secret = credentials.seal(DEMO_TOTP_SECRET)
    session.commit()


@pytest.fixture
def tokens(world: None, token_for) -> Iterator[dict[str, str]]:  # type: ignore[no-untyped-def]
    """A token for every signed-in persona (and one more for alice and carmen)."""
    yield {name: token_for(name) for name in PERSONAS if name != "anonymous"}


def token_id(session: Session, username: str) -> int:
    """The id of the newest token of ``username``."""
    owner = select(User.id).where(User.username == username).scalar_subquery()
    found = session.scalar(select(func.max(ApiToken.id)).where(ApiToken.user_id == owner))
    assert found is not None
    return found


def concrete(path: str, session: Session, persona: str) -> str:
    for name in ("alice", "carmen"):
        path = path.replace("{" + name + "}", str(token_id(session, name)))
    own = persona if persona != "anonymous" else "alice"
    return path.replace("{own}", str(token_id(session, own)))


def outcome(response: Any) -> str:
    if response.status_code >= 400 and "json" in response.headers["content-type"]:
        return f"{response.status_code} {response.json()['code']}"
    if response.status_code >= 400:
        code = next(c for c in ("API-106", "AUTH-111", "AUTH-112") if c in response.text)
        return f"{response.status_code} {code}"
    if response.status_code == 303:
        return f"303 {response.headers['location']}"
    return str(response.status_code)


def counts(session: Session) -> tuple[int, int, int]:
    revoked = select(func.count()).where(ApiToken.revoked_at.is_not(None))
    return (
        session.scalar(select(func.count()).select_from(Agency)) or 0,
        session.scalar(select(func.count()).select_from(User)) or 0,
        session.scalar(revoked) or 0,
    )


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", API_CASES, ids=lambda c: f"{c.route}:{c.path}:{c.body}")
def test_each_persona_gets_what_the_matrix_says_from_the_api(
    client: TestClient, session: Session, tokens: dict[str, str], case: Case, persona: str
) -> None:
    before = counts(session)
    if case.route == "POST /api/v1/auth/token":
        response = client.post(case.path, json=own_credentials(persona))
    else:
        headers = {"Authorization": f"Bearer {tokens[persona]}"} if persona in tokens else {}
        path = concrete(case.path, session, persona)
        response = client.request(case.method, path, json=case.body, headers=headers)
    assert outcome(response) == case.expected(persona), response.text
    session.expire_all()
    if response.status_code >= 400:
        assert counts(session) == before, "a refused request changed something"


def own_credentials(persona: str) -> dict[str, str]:
    if persona == "anonymous":
        return {"username": "nobody", "password": "a-guess-at-a-password"}
    credentials = {
        "username": persona,
        "password": PASSWORD if persona == "mara" else DEMO_PASSWORD,
    }
    if persona in WITH_TOTP:
        credentials["totp"] = pyotp.TOTP(DEMO_TOTP_SECRET).now()
    return credentials


def browser_sign_in(client: TestClient, persona: str) -> str:
    """Sign ``persona`` in on the web (anonymous: only fetch a form); return a CSRF token."""
    if persona == "anonymous":
        return csrf_from(client.get("/login").text)
    signed = web_sign_in(client, persona, own_credentials(persona)["password"])
    if persona in WITH_TOTP:
        page = client.get("/login/totp")
        code = pyotp.TOTP(DEMO_TOTP_SECRET).now()
        client.post("/login/totp", data={"code": code, "csrf_token": csrf_from(page.text)})
    else:
        assert signed.headers["location"] == "/"
    return csrf_from(client.get("/account/tokens").text)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("case", WEB_CASES, ids=lambda c: c.path)
def test_each_persona_gets_what_the_matrix_says_from_the_pages(
    client: TestClient, session: Session, tokens: dict[str, str], case: Case, persona: str
) -> None:
    csrf = browser_sign_in(client, persona)
    before = counts(session)
    path = concrete(case.path, session, persona)
    response = client.post(
        path, data={**(case.body or {}), "csrf_token": csrf}, follow_redirects=False
    )
    expected = case.expected(persona)
    if persona == "anonymous":
        expected = "303 /login"
    assert outcome(response) == expected, response.text
    session.expire_all()
    if response.status_code >= 400:
        assert counts(session) == before, "a refused request changed something"


def test_the_matrix_covers_every_route_that_creates_or_changes_accounts(app) -> None:  # type: ignore[no-untyped-def]
    """A new route creating or changing agencies, users, roles or tokens must join the
    matrix above (routes of the API and of the pages alike)."""
    changing = {
        f"{method} {route.path}"
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
        if method in {"POST", "PUT", "PATCH", "DELETE"}
        and any(word in route.path for word in ("agenc", "user", "role", "token"))
    }
    covered = {case.route for case in API_CASES + WEB_CASES}
    assert changing == covered

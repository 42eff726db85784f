"""``authorize``: roles and jurisdiction, for every persona, on every route."""

from __future__ import annotations

import pytest
from fastapi import Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from atalaya.accounts.authz import Principal, Scope, authorize
from atalaya.accounts.deps import (
    JsonBodyRoute,
    OptionalSignInRoute,
    SessionRoute,
    SignedInRoute,
    signed_in,
)
from atalaya.accounts.models import AgencyLevel, Role
from atalaya.accounts.schemas import UserOut
from atalaya.errors import DomainError
from test_app import assert_problem

JSON = {"Content-Type": "application/json"}

# Routes anyone may call: signing in, reference areas, the node's health and spec.
# Open to anyone: signing in, reference areas, the API's description, and the
# observatory's published indicators and national plans (tests/observatory checks that
# anonymous callers see nothing unpublished there, not even counts or a plan's name).
PUBLIC = {
    "/api/v1/auth/token",
    "/api/v1/areas",
    "/api/v1/areas/{code}",
    "/api/v1/openapi.json",
    "/api/v1/indicators",
    "/api/v1/indicators/reconciliation",
    "/api/v1/indicators/export",
    "/api/v1/indicators/structure",
    "/api/v1/plans",
    "/api/v1/plans/{code}/progress",
    "/observatory",
}


def principal(level: AgencyLevel, path: str, *roles: Role, agency_id: int = 1) -> Principal:
    return Principal(1, "p", agency_id, "A", level, path, frozenset(roles))


JUAREZ = "/MX/MX-CHH/MX-08-037/"
CHIHUAHUA = "/MX/MX-CHH/"
GUADALAJARA = "/MX/MX-JAL/MX-14-039/"


def test_a_municipal_officer_sees_their_municipality_only() -> None:
    officer = principal(AgencyLevel.MUNICIPAL, JUAREZ, Role.OFFICER)
    authorize(officer, "record.read", Scope(JUAREZ))
    for outside in (CHIHUAHUA, GUADALAJARA, "/MX/"):
        with pytest.raises(DomainError) as refused:
            authorize(officer, "record.read", Scope(outside))
        assert refused.value.code == "AUTH-112"


def test_a_state_agency_sees_the_state_and_its_municipalities() -> None:
    state = principal(AgencyLevel.STATE, CHIHUAHUA, Role.SUPERVISOR)
    authorize(state, "record.read", Scope(CHIHUAHUA))
    authorize(state, "record.read", Scope(JUAREZ))
    with pytest.raises(DomainError):
        authorize(state, "record.read", Scope(GUADALAJARA))


def test_a_federal_agency_sees_the_country_and_not_another() -> None:
    federal = principal(AgencyLevel.FEDERAL, "/MX/", Role.ANALYST)
    authorize(federal, "record.read", Scope(GUADALAJARA))
    with pytest.raises(DomainError):
        authorize(federal, "record.read", Scope("/CO/CO-ANT/"))


def test_a_role_without_the_action_is_refused_everywhere() -> None:
    analyst = principal(AgencyLevel.FEDERAL, "/MX/", Role.ANALYST)
    with pytest.raises(DomainError) as refused:
        authorize(analyst, "record.create")
    assert refused.value.code == "AUTH-111"


def test_an_unknown_action_is_refused() -> None:
    admin = principal(AgencyLevel.FEDERAL, "/MX/", *Role)
    with pytest.raises(DomainError):
        authorize(admin, "anything.at.all")


def test_restricted_objects_stay_with_their_agency_and_those_above() -> None:
    restricted = Scope(JUAREZ, agency_id=10, agency_level=AgencyLevel.MUNICIPAL, restricted=True)
    same_agency = principal(AgencyLevel.MUNICIPAL, JUAREZ, Role.OFFICER, agency_id=10)
    other_agency_same_town = principal(AgencyLevel.MUNICIPAL, JUAREZ, Role.OFFICER, agency_id=11)
    state = principal(AgencyLevel.STATE, CHIHUAHUA, Role.OFFICER, agency_id=12)
    authorize(same_agency, "record.read", restricted)
    authorize(state, "record.read", restricted)
    with pytest.raises(DomainError):
        authorize(other_agency_same_town, "record.read", restricted)


# Personas over HTTP -------------------------------------------------------------------


def api_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every method and path of the API, as its OpenAPI document lists them."""
    paths = app.openapi()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() if p.startswith("/api/v1") for m in ops]


def concrete(path: str) -> str:
    return (
        path.replace("{username}", "alice")
        .replace("{code}", "MX-SSPM-JUA")
        .replace("{token_id}", "1")
    )


def test_an_anonymous_client_gets_401_from_every_restricted_api_route(
    app, client: TestClient
) -> None:  # type: ignore[no-untyped-def]
    checked = 0
    for method, path in api_routes(app):
        if path in PUBLIC:
            continue
        response = client.request(method, concrete(path), json={})
        assert_problem(response, 401, "AUTH-101")
        checked += 1
    assert checked >= 10


def test_every_api_route_settles_its_caller_unless_it_is_public(app) -> None:  # type: ignore[no-untyped-def]
    """Deny by default: an API route is served by ``SignedInRoute`` unless it is listed
    as public, and public ones take credentials only as ``OptionalSignInRoute`` does."""
    classes: dict[str, set[type]] = {}
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path.startswith("/api/v1"):
            classes.setdefault(route.path, set()).add(type(route))
    assert len(classes) >= 30
    for path, kinds in classes.items():
        if path in PUBLIC:
            assert kinds <= {SessionRoute, JsonBodyRoute, OptionalSignInRoute}, path
        else:
            assert kinds == {SignedInRoute}, path


def test_an_anonymous_client_gets_401_before_its_body_or_parameters_are_read(
    client: TestClient,
) -> None:
    wrong_types = {"code": 5, "name": [], "level": "galactic", "area": None, "extra": 1}
    assert_problem(client.post("/api/v1/agencies", json=wrong_types), 401, "AUTH-101")
    assert_problem(
        client.post("/api/v1/agencies", content=b"{not json", headers=JSON), 401, "AUTH-101"
    )
    assert_problem(client.get("/api/v1/incidents?limit=-5"), 401, "AUTH-101")
    assert_problem(client.delete("/api/v1/tokens/not-a-number"), 401, "AUTH-101")


def test_a_bad_token_is_refused_where_credentials_are_optional(client: TestClient) -> None:
    assert client.get("/api/v1/plans").status_code == 200
    bad = {"Authorization": "Bearer not-a-token"}
    assert_problem(client.get("/api/v1/plans", headers=bad), 401, "AUTH-108")


def test_a_route_asking_for_a_caller_it_was_not_given_fails_loudly() -> None:
    request = Request({"type": "http", "path": "/x", "headers": [], "state": {}})
    with pytest.raises(RuntimeError, match="not served by a SignedInRoute"):
        signed_in(request)


def test_charlie_is_refused_agency_a_objects(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("charlie")
    assert_problem(client.get("/api/v1/users/alice", headers=headers), 403, "AUTH-111")
    assert_problem(client.get("/api/v1/agencies/MX-SSPM-JUA", headers=headers), 404, "API-106")
    agencies = client.get("/api/v1/agencies", headers=headers).json()
    assert [a["code"] for a in agencies["items"]] == ["MX-CPM-GDL"]


def test_charlie_cannot_revoke_alices_token(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    alice = auth("alice")
    token_id = client.get("/api/v1/tokens", headers=alice).json()["items"][0]["id"]
    assert_problem(
        client.delete(f"/api/v1/tokens/{token_id}", headers=auth("charlie")), 404, "API-106"
    )
    assert client.get("/api/v1/me", headers=alice).status_code == 200


def test_the_state_supervisor_reads_profiles_in_the_state_only(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("diana")
    assert client.get("/api/v1/users/alice", headers=headers).status_code == 200
    assert_problem(client.get("/api/v1/users/charlie", headers=headers), 404, "ACC-109")
    names = {u["username"] for u in client.get("/api/v1/users", headers=headers).json()["items"]}
    assert names == {"alice", "bob", "diana"}


def test_everyone_reads_their_own_profile(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    for name in ("alice", "bob", "charlie", "auditor"):
        assert client.get(f"/api/v1/users/{name}", headers=auth(name)).json()["username"] == name


def test_a_profile_document_is_the_user_model_as_the_lists_give_it(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    """``DocumentResponse`` profiles match what FastAPI makes of ``UserOut`` elsewhere."""
    headers = auth("diana")
    read = client.get("/api/v1/users/alice", headers=headers)
    assert read.headers["content-type"] == "application/json"
    listed = client.get("/api/v1/users", headers=headers).json()["items"]
    assert read.json() == next(u for u in listed if u["username"] == "alice")
    assert UserOut.model_validate_json(read.content).model_dump() == read.json()
    me = client.get("/api/v1/me", headers=auth("alice"))
    assert me.content == client.get("/api/v1/users/alice", headers=auth("alice")).content


def test_the_auditor_reads_the_log_but_changes_nothing(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("auditor")
    assert client.get("/api/v1/audit", headers=headers).status_code == 200
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert_problem(client.request(method, "/api/v1/audit", headers=headers), 405, "API-107")
    agency = {"code": "X", "name": "X", "level": "municipal", "area": "MX-08-037"}
    assert_problem(client.post("/api/v1/agencies", json=agency, headers=headers), 403, "AUTH-111")
    user = {"username": "eve", "agency": "MX-SSPC", "roles": ["auditor"], "password": "x" * 12}
    assert_problem(client.post("/api/v1/users", json=user, headers=headers), 403, "AUTH-111")


def test_only_auditors_read_the_log(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    for name in ("alice", "bob", "admin", "diana"):
        assert_problem(client.get("/api/v1/audit", headers=auth(name)), 403, "AUTH-111")


def test_refusals_are_audited(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    client.get("/api/v1/users/alice", headers=auth("charlie"))
    denied = client.get(
        "/api/v1/audit?outcome=denied&actor=charlie", headers=auth("auditor")
    ).json()
    assert denied["total"] >= 1
    assert denied["items"][0]["object_id"] == "/api/v1/users/alice"


def test_the_administrator_creates_agencies_and_users_in_jurisdiction(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    headers = auth("admin")
    agency = {
        "code": "MX-PM-MTY",
        "name": "Policía de Monterrey",
        "level": "municipal",
        "area": "MX-19-039",
        "parent": "MX-SSPC",
    }
    created = client.post("/api/v1/agencies", json=agency, headers=headers)
    assert created.status_code == 201, created.text
    user = {
        "username": "ramon",
        "agency": "MX-PM-MTY",
        "roles": ["administrator"],
        "password": "a-long-password",
    }
    assert client.post("/api/v1/users", json=user, headers=headers).status_code == 201
    foreign = agency | {"code": "CO-X", "area": "CO-ANT", "parent": None}
    assert_problem(client.post("/api/v1/agencies", json=foreign, headers=headers), 403, "AUTH-112")


@pytest.mark.parametrize(
    "change,code",
    [
        ({"level": "galactic"}, "ACC-104"),
        ({"area": "XX-NOPE"}, "ACC-102"),
        ({"code": "MX-SSPC"}, "ACC-103"),
        ({"parent": "NOPE"}, "ACC-101"),
        ({"area": "MX-14-039", "parent": "MX-SSPE-CHH"}, "ACC-108"),
    ],
)
def test_bad_agencies_are_refused_and_nothing_is_created(
    client: TestClient, auth, change, code
) -> None:  # type: ignore[no-untyped-def]
    headers = auth("admin")
    agency = {"code": "MX-NEW", "name": "Nueva", "level": "municipal", "area": "MX-08-037"} | change
    status = 409 if code == "ACC-103" else 422
    assert_problem(client.post("/api/v1/agencies", json=agency, headers=headers), status, code)
    assert_problem(client.get("/api/v1/agencies/MX-NEW", headers=headers), 404, "API-106")


@pytest.mark.parametrize(
    "change,code,status",
    [
        ({"roles": ["emperor"]}, "ACC-105", 422),
        ({"agency": "NOPE"}, "ACC-101", 422),
        ({"username": "alice"}, "ACC-106", 409),
        ({"password": "short"}, "ACC-107", 422),
    ],
)
def test_bad_users_are_refused(client: TestClient, auth, change, code, status) -> None:  # type: ignore[no-untyped-def]
    user = {
        "username": "newbie",
        "agency": "MX-SSPC",
        "roles": ["administrator"],
        "password": "a-long-password",
    }
    assert_problem(
        client.post("/api/v1/users", json=user | change, headers=auth("admin")), status, code
    )

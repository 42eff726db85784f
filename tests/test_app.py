"""The API's common ground: health, OpenAPI, problems, request ids, headers, limits."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from atalaya import app as app_module
from atalaya.app import create_app
from atalaya.db import Database
from atalaya.settings import Settings


def test_it_answers_health_without_authentication(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_it_publishes_openapi_under_api_v1(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert spec["info"]["title"] == "Atalaya"
    assert "/api/v1/users/{username}" in spec["paths"]


def test_it_serves_no_interactive_docs_that_would_load_from_a_cdn(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404


def test_every_response_carries_a_request_id_and_security_headers(client: TestClient) -> None:
    response = client.get("/healthz")
    assert len(response.headers["x-request-id"]) == 32
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers


def test_it_keeps_a_well_formed_request_id_from_the_caller(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    forged = client.get("/healthz", headers={"X-Request-ID": "bad id\r\nx"})
    assert forged.headers["x-request-id"] != "bad id\r\nx"


def test_the_request_id_appears_in_problems_and_audit(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-me-1"})
    assert response.json()["request_id"] == "trace-me-1"
    headers = auth("alice") | {"X-Request-ID": "trace-me-2"}
    client.get("/api/v1/users/alice", headers=headers)
    entries = client.get("/api/v1/audit?action=user.read", headers=auth("auditor")).json()
    assert any(e["request_id"] == "trace-me-2" for e in entries["items"])


def test_it_sends_hsts_when_served_over_tls(settings, db) -> None:  # type: ignore[no-untyped-def]
    tls = settings.model_copy(update={"public_url": "https://atalaya.example"})
    with TestClient(create_app(tls, db)) as client:
        assert "max-age" in client.get("/healthz").headers["strict-transport-security"]


def assert_problem(response, status: int, code: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body  # type: ignore[no-any-return]


def test_an_unknown_path_is_a_404_problem(client: TestClient) -> None:
    assert_problem(client.get("/api/v1/nothing-here"), 404, "API-106")


def test_a_wrong_method_is_a_405_problem(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    assert_problem(client.put("/api/v1/audit", headers=auth("auditor")), 405, "API-107")


def test_malformed_json_is_a_400_problem(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/token",
        content=b'{"username": "alice",',
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 400, "API-101")


XML = b'<?xml version="1.0"?><token><username>alice</username></token>'
# Two routes that read a JSON body, one open to anyone and one for signed-in callers,
# with what a JSON body gets from them (a wrong password; a new token).
JSON_ROUTES = [
    ("/api/v1/auth/token", None, {"username": "alice", "password": "x"}, 401),
    ("/api/v1/tokens", "alice", {"name": "laptop", "days": 5}, 201),
]
JSON_TYPES = ["application/json; charset=utf-8", "Application/JSON", "application/merge+json"]


@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/plain", "application/x-www-form-urlencoded", None]
)
@pytest.mark.parametrize(("path", "user", "body", "taken"), JSON_ROUTES, ids=["token", "tokens"])
def test_a_body_not_sent_as_json_is_a_415_problem_once_the_caller_is_settled(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    content_type: str | None,
    path: str,
    user: str | None,
    body: dict[str, object],
    taken: int,
) -> None:
    said = {"content-type": content_type} if content_type else {}
    credentials = auth(user) if user else {}
    for content in (XML, json.dumps(body).encode()):  # even JSON, when not said to be
        response = client.post(path, content=content, headers=credentials | said)
        problem = assert_problem(response, 415, "API-109")
        assert problem["detail"] == "Send the request body as application/json."
        if user:  # decision 0006: who is calling is settled first
            assert_problem(client.post(path, content=content, headers=said), 401, "AUTH-101")
    for json_type in JSON_TYPES:
        headers = credentials | {"content-type": json_type}
        response = client.post(path, content=json.dumps(body).encode(), headers=headers)
        assert response.status_code == taken, response.text


def test_unknown_fields_are_refused_by_name(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    body = {"name": "laptop", "days": 5, "admin": True}
    problem = assert_problem(
        client.post("/api/v1/tokens", json=body, headers=auth("alice")), 422, "API-103"
    )
    assert problem["errors"] == [
        {"field": "admin", "code": "API-103", "message": problem["errors"][0]["message"]}
    ]


def test_wrong_types_and_missing_fields_come_back_together(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    body = {"code": "X-1", "level": "municipal", "area": 5}
    problem = assert_problem(
        client.post("/api/v1/agencies", json=body, headers=auth("admin")), 422, "API-102"
    )
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("name", "API-102"),
        ("area", "API-104"),
    }


def test_a_body_over_the_limit_is_a_413_problem(settings, db) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_body_bytes": 1000})
    with TestClient(create_app(small, db)) as client:
        body = json.dumps({"username": "alice", "password": "x" * 2000})
        response = client.post(
            "/api/v1/auth/token", content=body, headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "API-105")


def test_a_streamed_body_over_the_limit_is_refused_too(settings, db) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_body_bytes": 1000})

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"x" * 400

    with TestClient(create_app(small, db)) as client:
        response = client.post(
            "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
        )
        assert_problem(response, 413, "API-105")


def test_the_default_body_limit_is_ten_megabytes(settings) -> None:  # type: ignore[no-untyped-def]
    assert type(settings)().max_body_bytes == 10 * 1024 * 1024


@pytest.mark.parametrize("lang,word", [("es", "JSON"), ("fr", "JSON"), ("pt", "JSON")])
def test_problems_speak_the_callers_language(client: TestClient, lang: str, word: str) -> None:
    response = client.post(
        "/api/v1/auth/token",
        content=b"{",
        headers={"content-type": "application/json", "accept-language": f"{lang};q=0.9, en;q=0.1"},
    )
    english = "The request body is not valid JSON."
    assert response.json()["title"] != english
    assert word in response.json()["title"]


def test_text_with_a_nul_character_is_refused_by_field(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    body = {"code": "X", "name": "N\x00", "level": "municipal", "area": "MX-08-037"}
    problem = assert_problem(
        client.post("/api/v1/agencies", json=body, headers=auth("admin")), 422, "API-110"
    )
    assert problem["errors"][0]["field"] == "name"


def test_a_nul_character_in_a_path_is_a_problem_not_a_crash(client: TestClient) -> None:
    response = client.get("/api/v1/areas/%00")
    assert response.status_code in (404, 422)
    assert response.headers["content-type"] == "application/problem+json"


def test_an_id_too_large_for_any_row_is_refused(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    response = client.delete(f"/api/v1/tokens/{2**70}", headers=auth("alice"))
    assert_problem(response, 422, "API-104")


@given(st.text(max_size=40))
def test_any_cursor_either_decodes_or_is_refused_with_api_108(cursor: str) -> None:
    from atalaya.errors import DomainError
    from atalaya.web.pagination import MAX_ID, decode_cursor

    try:
        assert 0 < decode_cursor(cursor) <= MAX_ID
    except DomainError as error:
        assert error.code == "API-108"


@given(st.text(max_size=60))
def test_any_accept_language_yields_a_supported_language(header: str) -> None:
    from atalaya.i18n import negotiate

    assert negotiate(header, "en") in ("en", "es", "pt", "fr")


def test_the_openapi_description_says_errors_are_problems(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    responses = spec["paths"]["/api/v1/users/{username}"]["get"]["responses"]
    for status in ("401", "403", "404", "422"):
        assert list(responses[status]["content"]) == ["application/problem+json"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert set(spec["components"]["schemas"]["Problem"]["required"]) >= {"code", "errors", "status"}


def test_a_problems_summary_names_the_values_of_its_first_field_error(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    from records.test_incidents_api import URL, homicide

    body = homicide(persons=[])
    problem = assert_problem(client.post(URL, json=body, headers=auth("alice")), 422, "REC-110")
    assert problem["title"] == problem["detail"] == problem["errors"][0]["message"]
    assert "{" not in problem["title"] and "0101" in problem["title"]


def test_a_time_at_the_calendars_edge_is_a_filter_not_a_server_error(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
) -> None:
    import datetime as dt

    from atalaya.db import as_utc

    edge = dt.datetime(1, 1, 1, tzinfo=dt.timezone(dt.timedelta(minutes=1)))
    assert as_utc(edge) == dt.datetime.min.replace(tzinfo=dt.UTC)
    late = dt.datetime(9999, 12, 31, 23, 59, tzinfo=dt.timezone(-dt.timedelta(hours=1)))
    assert as_utc(late) == dt.datetime.max.replace(tzinfo=dt.UTC)
    params = {"occurred_until": "9999-12-31T23:59:00-01:00"}
    response = client.get("/api/v1/incidents", params=params, headers=auth("bob"))
    assert response.status_code == 200
    # The first moment is before 1900: refused as any such bound is (REC-120), not a 500.
    params = {"occurred_since": "0001-01-01T00:00:00+00:01"}
    response = client.get("/api/v1/incidents", params=params, headers=auth("bob"))
    assert_problem(response, 422, "REC-120")


def test_routes_mounted_flat_are_those_include_router_would_give(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``mount_routes`` skips FastAPI's included-router layer for speed; the OpenAPI
    document and the route each path reaches must not change."""
    flat = create_app(settings, db)
    monkeypatch.setattr(app_module, "mount_routes", lambda app, router: app.include_router(router))
    included = create_app(settings, db)
    assert flat.openapi() == included.openapi()
    with TestClient(flat) as a, TestClient(included) as b:
        for path in ("/healthz", "/api/v1/me", "/observatory", "/api/v1/nowhere", "/login"):
            first, second = a.get(path, follow_redirects=False), b.get(path, follow_redirects=False)
            assert (first.status_code, first.headers.get("content-type")) == (
                second.status_code,
                second.headers.get("content-type"),
            ), path

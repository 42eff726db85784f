"""Auditors list and filter the log, in the API and on the web, within jurisdiction."""

from __future__ import annotations

from fastapi.testclient import TestClient

from accounts.test_sign_in_web import web_sign_in
from atalaya.accounts import service
from conftest import TEST_CONTEXT


def test_the_auditor_filters_by_actor_and_action(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    client.get("/api/v1/users/alice", headers=auth("alice"))
    page = client.get(
        "/api/v1/audit", params={"actor": "alice", "action": "user.read"}, headers=auth("auditor")
    ).json()
    assert page["total"] >= 1
    assert {(e["actor"], e["action"]) for e in page["items"]} == {("alice", "user.read")}
    entry = page["items"][0]
    for field in (
        "at",
        "agency",
        "token_id",
        "request_id",
        "client_address",
        "outcome",
        "prev_hash",
        "hash",
    ):
        assert field in entry


def test_the_log_pages_with_a_cursor(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("auditor")
    first = client.get("/api/v1/audit", params={"limit": 2}, headers=headers).json()
    assert len(first["items"]) == 2 and first["next"]
    second = client.get(
        "/api/v1/audit", params={"limit": 2, "cursor": first["next"]}, headers=headers
    ).json()
    assert second["items"][0]["seq"] < first["items"][-1]["seq"]
    bad = client.get("/api/v1/audit", params={"cursor": "%%%"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["code"] == "API-108"


def test_a_state_auditor_sees_only_entries_from_the_state(
    client: TestClient, session, auth
) -> None:  # type: ignore[no-untyped-def]
    service.create_user(
        session,
        TEST_CONTEXT,
        client.app.state.runtime.credentials,
        username="estela",
        agency="MX-SSPE-CHH",
        roles=["auditor"],
        password="a-long-password",
    )
    session.commit()
    client.get("/api/v1/me", headers=auth("charlie"))
    client.get("/api/v1/users/alice", headers=auth("alice"))
    items = client.get("/api/v1/audit", params={"limit": 500}, headers=auth("estela")).json()[
        "items"
    ]
    agencies = {e["agency"] for e in items}
    assert "MX-SSPM-JUA" in agencies
    assert "MX-CPM-GDL" not in agencies and None not in agencies


def test_reading_the_log_is_itself_audited(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("auditor")
    client.get("/api/v1/audit", headers=headers)
    latest = client.get("/api/v1/audit", params={"limit": 1}, headers=headers).json()["items"][0]
    assert latest["action"] == "audit.read"


def test_the_audit_page_lists_and_filters(client: TestClient) -> None:
    web_sign_in(client, "auditor")
    page = client.get("/audit", params={"action": "login"})
    assert page.status_code == 200
    assert "<table>" in page.text and "login" in page.text


def test_the_audit_page_is_closed_to_others(client: TestClient) -> None:
    web_sign_in(client, "alice")
    assert client.get("/audit").status_code == 403

"""Alerts between nodes: queued for the peers an agreement lets them reach, held once
from a peer, changed only by their owner, never moved back to an older version."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.test_alerts_api import URL, issue, stolen_vehicle, wanted
from atalaya.alerts.exchange import body_of
from atalaya.alerts.models import Alert, AlertStatus
from atalaya.federation import envelopes
from atalaya.federation.agreements import Terms, add_agreement
from atalaya.federation.models import OutboxEnvelope, Peer
from conftest import TEST_CONTEXT
from federation.conftest import FOREIGN, ForeignNode, pin
from federation.test_inbox import own_encryption_key, post
from test_app import assert_problem


def outbox(session: Session) -> list[tuple[str, int]]:
    session.expire_all()
    return [(r.type, r.peer_id) for r in session.scalars(select(OutboxEnvelope).order_by("id"))]


def test_an_alert_is_queued_only_for_the_peers_whose_agreement_lets_its_class_go(
    client: TestClient,
    auth,
    session: Session,
    local,
    foreign: ForeignNode,  # type: ignore[no-untyped-def]
) -> None:
    peer = pin(session, foreign)
    add_agreement(session, TEST_CONTEXT, Terms(send=["alert:stolen_vehicle"]), peer=peer)
    session.commit()
    vehicle = issue(client, auth, stolen_vehicle())
    issue(client, auth, wanted(), who="diana")
    assert outbox(session) == [("alert.stolen_vehicle.publish", peer.id)]
    cancel = {"reason": "Recuperado.", "version": 1}
    client.post(f"{URL}/{vehicle['uid']}/cancel", json=cancel, headers=auth("alice"))
    assert outbox(session)[1:] == [("alert.stolen_vehicle.cancel", peer.id)]
    # The body travels encrypted: the VIN is not readable in the queued envelope.
    token = session.scalars(select(OutboxEnvelope.token)).first()
    assert (
        token is not None
        and "1M8GDM9AXKP042788" not in envelopes.unverified_payload(token).decode()
    )


def peer_alert(**changes: Any) -> dict[str, Any]:
    """The body of a stolen vehicle alert as its owner, the foreign node, sends it."""
    body = {
        "uid": "01900000-0000-7000-8000-000000000001",
        "type": "stolen_vehicle",
        "owner_node": FOREIGN,
        "agency": "CO-PONAL",
        "version": 1,
        "status": "active",
        "summary": "Vehículo hurtado en Bogotá.",
        "review_date": "2030-01-01",
        "subject": {"vehicle": {"vin": "1M8GDM9AXKP042788", "plate": "BOG-123"}},
        "cancel_reason": "",
    }
    body.update(changes)
    return body


def send(
    client: TestClient, foreign: ForeignNode, body: dict[str, Any], event: str = "publish"
) -> Any:
    envelope = foreign.envelope(type=f"alert.stolen_vehicle.{event}", body=body)
    return post(client, envelopes.seal(envelope, foreign.keys.signing, own_encryption_key(client)))


def received(session: Session) -> list[Alert]:
    session.expire_all()
    return list(session.scalars(select(Alert).where(Alert.received_from != "")))


def test_a_peers_alert_is_held_once_and_only_its_owner_changes_it(
    client: TestClient,
    auth,
    session: Session,
    local,
    foreign: ForeignNode,  # type: ignore[no-untyped-def]
) -> None:
    peer = pin(session, foreign)
    add_agreement(session, TEST_CONTEXT, Terms(receive=["alert:stolen_vehicle"]), peer=peer)
    session.commit()
    assert send(client, foreign, peer_alert()).status_code == 202
    (alert,) = received(session)
    assert (alert.owner_node, alert.version, alert.status) == (FOREIGN, 1, AlertStatus.ACTIVE)
    found = client.get(URL, params={"vin": "1m8gdm9axkp042788"}, headers=auth("charlie")).json()
    assert [a["uid"] for a in found["items"]] == [alert.uid]
    # A newer version replaces it; an older one arriving late changes nothing.
    assert send(client, foreign, peer_alert(version=3, summary="Actualizado.")).status_code == 202
    assert send(client, foreign, peer_alert(version=2, summary="Viejo.")).status_code == 202
    (alert,) = received(session)
    assert (alert.version, alert.summary) == (3, "Actualizado.")
    # Here, nobody changes it: only its owner node does.
    change = {**stolen_vehicle(), "version": 3}
    assert_problem(client.put(f"{URL}/{alert.uid}", json=change, headers=auth("alice")), 403,
                   "ALR-108")  # fmt: skip
    assert (
        send(client, foreign, peer_alert(version=4, status="cancelled"), "cancel").status_code
        == 202
    )
    assert send(client, foreign, peer_alert(version=5)).status_code == 202
    (alert,) = received(session)
    assert alert.status == AlertStatus.CANCELLED


def test_a_peer_cannot_speak_for_another_nodes_alert(
    client: TestClient,
    session: Session,
    local,
    foreign: ForeignNode,  # type: ignore[no-untyped-def]
) -> None:
    peer = pin(session, foreign)
    add_agreement(session, TEST_CONTEXT, Terms(receive=["alert:stolen_vehicle"]), peer=peer)
    session.commit()
    response = send(client, foreign, peer_alert(owner_node="gt-pnc"))
    assert response.status_code == 403 and response.json()["code"] == "ALR-108"
    bad = send(client, foreign, peer_alert(subject={"vehicle": {"colour": []}}))
    assert bad.status_code == 422 and bad.json()["code"] == "ALR-115"
    assert received(session) == []


def test_without_an_agreement_for_its_class_an_alert_is_refused(
    client: TestClient,
    session: Session,
    peer: Peer,
    foreign: ForeignNode,  # type: ignore[no-untyped-def]
) -> None:
    # ``peer`` comes with an agreement for pings only.
    response = send(client, foreign, peer_alert())
    assert response.status_code == 403 and response.json()["code"] == "FED-112"
    assert received(session) == []


def test_what_a_peer_receives_names_the_owner_and_the_version(session: Session) -> None:
    alert = Alert(uid="u", type="wanted", status="active", owner_node="mx", received_from="",
                  agency_code="MX-A", version=2, summary="s", subject={"person": {}},
                  review_date=__import__("datetime").date(2030, 1, 1), cancel_reason="")  # fmt: skip
    body = body_of(alert)
    assert (body["owner_node"], body["version"], body["review_date"]) == ("mx", 2, "2030-01-01")

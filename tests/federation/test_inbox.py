"""The inbox accepts a signed envelope once, and rejects every other with its code,
an audit entry giving the reason, and no other change."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.audit.models import AuditEntry
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import envelopes, node, peers
from atalaya.federation.agreements import Terms, add_agreement, revoke_agreement
from atalaya.federation.envelopes import new_envelope_id
from atalaya.federation.inbox import Attempt, receive
from atalaya.federation.keys import generate
from atalaya.federation.models import (
    Agreement,
    HitOutcome,
    HitQueryReceived,
    InboxEnvelope,
    KeyUse,
    NodeKey,
    Peer,
)
from atalaya.federation.outbox import enqueue
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

from .conftest import LOCAL, ForeignNode, pin, rotate, start_foreign_node

JOSE = {"content-type": "application/jose"}


def post(client: TestClient, token: str | bytes) -> Response:
    return client.post("/federation/inbox", content=token, headers=JOSE)


def inbox_count(session: Session) -> int:
    return session.scalar(select(func.count(InboxEnvelope.id))) or 0


def last_receipt(session: Session) -> AuditEntry:
    entry = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.action == "federation.envelope_receive")
        .order_by(AuditEntry.seq.desc())
    ).first()
    assert entry is not None
    return entry


def assert_rejected(
    client: TestClient, session: Session, peer: Peer, token: str | bytes, status: int, code: str
) -> dict[str, Any]:
    session.expire_all()
    before = (inbox_count(session), session.get(Peer, peer.id).last_ping_at)  # type: ignore[union-attr]
    response = post(client, token)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    session.expire_all()
    assert (inbox_count(session), session.get(Peer, peer.id).last_ping_at) == before  # type: ignore[union-attr]
    entry = last_receipt(session)
    detail: dict[str, Any] = json.loads(entry.detail)
    assert (entry.outcome, detail["code"]) == ("denied", code)
    assert detail["reason"]
    return detail


def test_a_ping_is_accepted_recorded_and_handled(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    envelope = foreign.envelope()
    response = post(client, envelopes.seal(envelope, foreign.keys.signing))
    assert response.status_code == 202
    assert response.json() == {"id": envelope.id, "status": "accepted"}
    session.expire_all()
    stored = session.scalars(select(InboxEnvelope)).one()
    assert (stored.envelope_id, stored.type) == (envelope.id, "node.ping")
    assert session.get(Peer, peer.id).last_ping_at == envelope.created.replace(microsecond=0)  # type: ignore[union-attr]
    entry = last_receipt(session)
    assert (entry.outcome, entry.actor_type, entry.peer_node) == ("success", "peer", "co-ponal")


def test_a_replayed_envelope_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    token = foreign.sealed()
    assert post(client, token).status_code == 202
    detail = assert_rejected(client, session, peer, token, 409, "FED-110")
    assert detail["type"] == "node.ping"


def test_a_bad_signature_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    header, payload, _ = foreign.sealed().split(".")
    _, _, other_signature = foreign.sealed().split(".")
    assert_rejected(client, session, peer, f"{header}.{payload}.{other_signature}", 401, "FED-102")


def test_a_tampered_payload_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    header, payload, signature = foreign.sealed().split(".")
    claims = json.loads(envelopes.unverified_payload(f"{header}.{payload}.{signature}"))
    claims["type"] = "node.ping"
    claims["expires"] = "2099-01-01T00:00:00Z"
    forged = envelopes.base64.urlsafe_b64encode(envelopes.canonical(claims)).rstrip(b"=").decode()
    assert_rejected(client, session, peer, f"{header}.{forged}.{signature}", 401, "FED-102")


def test_an_unknown_sender_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    stranger = generate("Ed25519")
    token = envelopes.seal(foreign.envelope(), stranger)
    detail = assert_rejected(client, session, peer, token, 401, "FED-103")
    assert detail["kid"] == stranger.thumbprint()


def test_a_peer_signing_as_another_node_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    assert_rejected(client, session, peer, foreign.sealed(sender="ar-pfa"), 401, "FED-105")


def test_an_expired_envelope_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    token = foreign.sealed(created=long_ago, expires=long_ago + dt.timedelta(minutes=10))
    assert_rejected(client, session, peer, token, 422, "FED-107")


def test_an_envelope_from_the_future_beyond_the_skew_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode, settings: Settings
) -> None:
    skew = settings.federation_clock_skew_seconds
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew + 60)
    token = foreign.sealed(created=ahead, expires=ahead + dt.timedelta(hours=1))
    assert_rejected(client, session, peer, token, 422, "FED-108")
    within = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=skew // 2)
    assert (
        post(
            client, foreign.sealed(created=within, expires=within + dt.timedelta(hours=1))
        ).status_code
        == 202
    )


def test_an_envelope_for_another_node_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    assert_rejected(client, session, peer, foreign.sealed(recipient="ar-pfa"), 422, "FED-109")


def test_a_type_the_agreement_does_not_allow_is_rejected(
    client: TestClient, session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    agreement = add_agreement(session, TEST_CONTEXT, Terms(receive=["alert:wanted"]), peer=peer)
    session.commit()
    assert_rejected(client, session, peer, foreign.sealed(), 403, "FED-112")
    revoke_agreement(session, TEST_CONTEXT, agreement.reference)
    session.commit()
    assert_rejected(client, session, peer, foreign.sealed(), 403, "FED-112")


def test_a_revoked_agreement_stops_envelopes(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    assert post(client, foreign.sealed()).status_code == 202
    agreement = session.get(Agreement, session.scalars(select(InboxEnvelope)).one().agreement_id)
    assert agreement is not None
    revoke_agreement(session, TEST_CONTEXT, agreement.reference)
    session.commit()
    assert_rejected(client, session, peer, foreign.sealed(), 403, "FED-112")


def test_an_unknown_type_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    assert_rejected(client, session, peer, foreign.sealed(type="alert.everything"), 422, "FED-111")


def test_the_daily_quota_is_enforced(
    client: TestClient, session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    add_agreement(session, TEST_CONTEXT, Terms(receive=["node:ping"], daily_limit=1), peer=peer)
    session.commit()
    assert post(client, foreign.sealed()).status_code == 202
    assert_rejected(client, session, peer, foreign.sealed(), 429, "FED-114")
    # Try again once the envelope accepted leaves the last 24 hours.
    retry_after = int(post(client, foreign.sealed()).headers["Retry-After"])
    assert 86_400 - 60 < retry_after <= 86_400


def test_the_daily_quota_counts_the_peers_hit_queries_too_and_says_when_to_try_again(
    client: TestClient, session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    terms = Terms(receive=["node:ping", "hit:vehicle"], daily_limit=2)
    agreement = add_agreement(session, TEST_CONTEXT, terms, peer=peer)
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    session.add(HitQueryReceived(envelope_id=new_envelope_id(), peer_id=peer.id,
                                 agreement_id=agreement.id, kind="vin", blinded="0" * 64,
                                 purpose="investigation", outcome=HitOutcome.NO_HIT,
                                 received_at=an_hour_ago))  # fmt: skip
    session.commit()
    assert post(client, foreign.sealed()).status_code == 202
    assert_rejected(client, session, peer, foreign.sealed(), 429, "FED-114")
    # The query of an hour ago is the oldest counted: it leaves the day in 23 hours.
    retry_after = int(post(client, foreign.sealed()).headers["Retry-After"])
    assert 23 * 3600 - 60 < retry_after <= 23 * 3600


def test_an_oversized_envelope_is_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode, settings: Settings
) -> None:
    padding = "x" * settings.federation_max_envelope_bytes
    assert_rejected(client, session, peer, foreign.sealed(body={"note": padding}), 413, "FED-113")


@pytest.mark.parametrize(
    "token",
    [
        b"",
        b"garbage",
        b"a.b.c",
        b'{"id": "x", "sender": "co-ponal"}',
        b"eyJhbGciOiJub25lIn0.eyJpZCI6IngifQ.",
    ],
    ids=["empty", "garbage", "three-dots", "plain-json", "alg-none"],
)
def test_unsigned_or_garbage_is_rejected(
    client: TestClient, session: Session, peer: Peer, token: bytes
) -> None:
    assert_rejected(client, session, peer, token, 400, "FED-101")


@pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
def test_another_algorithm_is_rejected_even_with_the_right_key(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    from joserfc import jws
    from joserfc.jws import JWSRegistry

    payload = envelopes.canonical({**foreign.envelope().claims(), "body": {}})
    header = {"alg": "EdDSA", "kid": foreign.keys.kid, "typ": envelopes.ENVELOPE_TYPE}
    token = jws.serialize_compact(
        header, payload, foreign.keys.signing, registry=JWSRegistry(algorithms=["EdDSA"])
    )
    assert_rejected(client, session, peer, token, 400, "FED-101")


def test_extra_claims_are_rejected(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    claims = {**foreign.envelope().claims(), "body": {}, "priority": "high"}
    token = envelopes.sign(claims, foreign.keys.signing)
    assert_rejected(client, session, peer, token, 422, "FED-106")


def own_encryption_key(client: TestClient) -> dict[str, Any]:
    return peers.read_description(client.get("/.well-known/atalaya-node").json()).encryption


def test_a_confidential_body_round_trips(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode, settings: Settings
) -> None:
    envelope = foreign.envelope(body={"note": "confidential"})
    token = envelopes.seal(envelope, foreign.keys.signing, own_encryption_key(client))
    assert "confidential" not in envelopes.unverified_payload(token).decode()
    accepted = receive(
        session,
        settings,
        LOCAL,
        node.load_keys(session, settings),
        token.encode(),
        Attempt(),
        dt.datetime.now(dt.UTC),
    )
    assert accepted.delivery.envelope.body == {"note": "confidential"}


def test_a_ciphertext_lifted_into_another_envelope_does_not_open(
    client: TestClient, session: Session, peer: Peer, foreign: ForeignNode
) -> None:
    key = own_encryption_key(client)
    original = envelopes.seal(foreign.envelope(), foreign.keys.signing, key)
    lifted = json.loads(envelopes.unverified_payload(original))["body_jwe"]
    claims = {**foreign.envelope().claims(), "body_jwe": lifted}
    assert_rejected(
        client, session, peer, envelopes.sign(claims, foreign.keys.signing), 422, "FED-115"
    )


def test_the_old_key_verifies_during_the_overlap_and_not_after(
    session: Session,
    local: node.NodeIdentity,
    settings: Settings,
    tmp_path: Path,
) -> None:
    rotating = start_foreign_node(tmp_path)
    peer = pin(session, rotating)
    add_agreement(session, TEST_CONTEXT, Terms(receive=["node:ping"]), peer=peer)
    old_key = rotating.keys.signing
    rotate(rotating)
    now = dt.datetime.now(dt.UTC)
    description = peers.fetch_description(rotating.client, str(rotating.client.base_url))
    peers.refresh_peer(session, TEST_CONTEXT, settings, peer, description, now)
    node_keys = node.load_keys(session, settings)

    def accept(signing_key: Any, at: dt.datetime) -> str:
        envelope = rotating.envelope(created=at, expires=at + dt.timedelta(hours=1))
        token = envelopes.seal(envelope, signing_key).encode()
        try:
            receive(session, settings, LOCAL, node_keys, token, Attempt(), at)
        except DomainError as error:
            return error.code
        return "accepted"

    overlap = dt.timedelta(hours=settings.federation_key_overlap_hours)
    assert accept(old_key, now + dt.timedelta(hours=1)) == "accepted"
    assert accept(rotating.keys.signing, now + dt.timedelta(hours=1)) == "accepted"
    assert accept(old_key, now + overlap + dt.timedelta(minutes=1)) == "FED-104"
    assert accept(rotating.keys.signing, now + overlap + dt.timedelta(minutes=1)) == "accepted"


def test_the_outbox_seals_envelopes_the_peer_accepts(
    session: Session, peer: Peer, foreign: ForeignNode, settings: Settings
) -> None:
    add_agreement(session, TEST_CONTEXT, Terms(send=["node:ping"]), peer=peer)
    identity = node.identity(session)
    row = enqueue(
        session,
        identity.node_id,
        node.load_keys(session, settings),
        peer,
        "node.ping",
        {},
        confidential=True,
    )
    claims = json.loads(envelopes.unverified_payload(row.token))
    assert (claims["recipient"], claims["sender"], row.status) == ("co-ponal", LOCAL, "pending")
    assert "body_jwe" in claims
    signer = session.scalars(select(NodeKey).where(NodeKey.use == KeyUse.SIGNING)).one()
    assert envelopes.verified_payload(row.token.encode(), signer.jwk, 10_000) is not None

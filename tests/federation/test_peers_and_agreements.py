"""Peers are pinned by fingerprint only; agreements allow nothing unless in force."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.audit.models import AuditEntry
from atalaya.errors import DomainError
from atalaya.federation import agreements, node, peers
from atalaya.federation.agreements import Terms
from atalaya.federation.models import Direction, Peer, PeerGroup, PeerKey
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

from .conftest import FOREIGN, FOREIGN_URL, ForeignNode, pin, rotate, start_foreign_node


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_peer_is_pinned_when_the_fingerprint_matches(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    assert (peer.node_id, peer.country, peer.url) == (FOREIGN, "CO", FOREIGN_URL)
    assert {k.use for k in peer.keys} == {"sig", "enc"}
    assert peers.current_key(peer, "sig").kid == foreign.keys.kid  # type: ignore[arg-type]
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None and (entry.action, entry.object_id) == ("federation.peer_add", FOREIGN)


def test_a_wrong_fingerprint_refuses_and_stores_nothing(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    description = peers.fetch_description(foreign.client, FOREIGN_URL)
    wrong = "A" * 43
    with pytest.raises(DomainError) as refused:
        peers.add_peer(session, TEST_CONTEXT, description, wrong)
    assert refused.value.code == "FED-120"
    assert (count(session, Peer), count(session, PeerKey)) == (0, 0)


def test_the_same_node_cannot_be_pinned_twice(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    pin(session, foreign)
    with pytest.raises(DomainError) as refused:
        pin(session, foreign)
    assert refused.value.code == "FED-123"


def test_an_unreachable_peer_is_reported(session: Session, foreign: ForeignNode) -> None:
    with pytest.raises(DomainError) as refused:
        peers.fetch_description(foreign.client, FOREIGN_URL + "/nothing-here")
    assert refused.value.code == "FED-121"


def in_force_for(session: Session, peer: Peer, now: dt.datetime) -> bool:
    found = agreements.agreement_allowing(session, peer, Direction.RECEIVE, "node:ping", now)
    return found is not None


def test_without_an_agreement_nothing_is_allowed(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    assert not in_force_for(session, peer, dt.datetime.now(dt.UTC))


def test_an_empty_agreement_allows_nothing(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    agreements.add_agreement(session, TEST_CONTEXT, Terms(), peer=peer)
    assert not in_force_for(session, peer, dt.datetime.now(dt.UTC))


def test_an_agreement_allows_its_classes_in_its_direction_only(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    agreements.add_agreement(session, TEST_CONTEXT, Terms(send=["node:ping"]), peer=peer)
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert agreements.agreement_allowing(session, peer, Direction.SEND, "node:ping", now)
    assert not in_force_for(session, peer, now)


def test_an_agreement_stops_at_its_end_and_at_revocation(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    now = dt.datetime.now(dt.UTC)
    terms = Terms(receive=["node:ping"], valid_until=now + dt.timedelta(days=1))
    agreement = agreements.add_agreement(session, TEST_CONTEXT, terms, peer=peer)
    assert in_force_for(session, peer, now + dt.timedelta(seconds=1))
    assert not in_force_for(session, peer, now + dt.timedelta(days=1, seconds=1))
    agreements.revoke_agreement(session, TEST_CONTEXT, agreement.reference)
    assert not in_force_for(session, peer, now + dt.timedelta(seconds=1))


def test_a_new_version_replaces_the_old_terms(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    first = agreements.add_agreement(session, TEST_CONTEXT, Terms(receive=["node:ping"]), peer=peer)
    second = agreements.amend_agreement(
        session, TEST_CONTEXT, first.reference, agreements.Amendment(receive=["alert:wanted"])
    )
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert (second.reference, second.version) == (first.reference, 2)
    assert first.superseded_at is not None
    assert not in_force_for(session, peer, now)
    assert agreements.agreement_allowing(session, peer, Direction.RECEIVE, "alert:wanted", now)
    assert [a.version for a in agreements.agreements(session)] == [2]


def test_a_group_agreement_covers_its_members_only(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    andean = peers.join_group(session, TEST_CONTEXT, "andean", peer)
    agreements.add_agreement(session, TEST_CONTEXT, Terms(receive=["node:ping"]), group=andean)
    nobody = PeerGroup(code="nobody")
    session.add(nobody)
    session.flush()
    agreements.add_agreement(session, TEST_CONTEXT, Terms(receive=["alert:wanted"]), group=nobody)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert in_force_for(session, peer, later)
    assert not agreements.agreement_allowing(
        session, peer, Direction.RECEIVE, "alert:wanted", later
    )


def test_unknown_data_classes_and_past_ends_are_refused(
    session: Session, local: node.NodeIdentity, foreign: ForeignNode
) -> None:
    peer = pin(session, foreign)
    with pytest.raises(DomainError) as unknown:
        agreements.add_agreement(session, TEST_CONTEXT, Terms(receive=["alert:all"]), peer=peer)
    past = Terms(receive=["node:ping"], valid_until=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(DomainError) as ended:
        agreements.add_agreement(session, TEST_CONTEXT, past, peer=peer)
    assert (unknown.value.code, ended.value.code) == ("FED-125", "FED-128")


def test_a_rotated_peer_key_is_followed_and_the_old_one_kept_for_the_overlap(
    session: Session, local: node.NodeIdentity, settings: Settings, tmp_path: Path
) -> None:
    rotating = start_foreign_node(tmp_path)
    peer = pin(session, rotating)
    old_kid = rotating.keys.kid
    rotate(rotating)
    now = dt.datetime.now(dt.UTC)
    description = peers.fetch_description(rotating.client, FOREIGN_URL)
    assert peers.refresh_peer(session, TEST_CONTEXT, settings, peer, description, now)
    old = next(k for k in peer.keys if k.kid == old_kid)
    assert old.valid_until is not None and now < old.valid_until
    assert peers.current_key(peer, "sig").kid == rotating.keys.kid != old_kid  # type: ignore[arg-type]


def test_a_new_key_without_a_rotation_statement_is_refused(
    session: Session, local: node.NodeIdentity, settings: Settings, tmp_path: Path
) -> None:
    impostor = start_foreign_node(tmp_path / "impostor")
    peer = pin(session, impostor)
    replaced = start_foreign_node(tmp_path / "replaced")  # same id, new keys, no proof
    description = peers.fetch_description(replaced.client, FOREIGN_URL)
    with pytest.raises(DomainError) as refused:
        peers.refresh_peer(session, TEST_CONTEXT, settings, peer, description)
    assert refused.value.code == "FED-129"
    assert peers.current_key(peer, "sig").kid == impostor.keys.kid  # type: ignore[arg-type]

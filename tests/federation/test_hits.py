"""Hit/no-hit between this node (A, ``mx-sspc``, in the test's transaction) and a foreign
node (B, ``co-ponal``: its own database with the demo world, its own keys and app)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import OKPKey
from sqlalchemy import Connection, Engine, inspect, select, text, update
from sqlalchemy.orm import Session

from atalaya.accounts.service import get_user, principal_for
from atalaya.app import create_app
from atalaya.audit.models import AuditEntry
from atalaya.db import make_engine, utcnow
from atalaya.errors import DomainError
from atalaya.federation import hit_queries, node, outbox, peers
from atalaya.federation.agreements import Terms, add_agreement, latest_version, revoke_agreement
from atalaya.federation.hits import Question, blind, person_form, shared_key
from atalaya.federation.keys import public_jwk
from atalaya.federation.models import (
    HitNotification,
    HitOutcome,
    HitQuery,
    HitQueryReceived,
    OutboxEnvelope,
    Peer,
)
from atalaya.migrations import upgrade
from atalaya.records.schema import IncidentIn
from atalaya.records.service import create_incident
from atalaya.settings import Settings
from conftest import TEST_CONTEXT, make_settings, prepare
from federation.conftest import LOCAL

B = "co-ponal"
B_URL = "https://co-ponal.test"
STOLEN_VIN = "1M8GDM9AXKP042788"
UNKNOWN_VIN = "3VWFE21C04M000001"
HIT_CLASSES = ["hit:vehicle", "hit:person", "case:information_request"]
SUSPECT = {"role": "suspect", "given_names": "José Luis", "surnames": "Vásquez Peña",
           "sex": "male", "date_of_birth": "1980-05-01"}  # fmt: skip
JOSE_LUIS = Question(
    "person",
    "wanted_check",
    given_names="jose luis",
    surnames="Pena Vazquez",
    date_of_birth="1980-05-01",
)


@dataclass
class NodeB:
    settings: Settings
    engine: Engine
    app: FastAPI

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


@pytest.fixture(scope="module")
def b_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """B's database (demo world) and keys, made once and copied for each test."""
    root = tmp_path_factory.mktemp("hits-b")
    settings = make_settings(f"sqlite:///{root / 'b.db'}", root / "var")
    engine = make_engine(settings)
    prepare(engine, settings)
    with Session(engine) as session:
        node.init_node(
            session, TEST_CONTEXT, settings, node_id=B, name="PONAL", country="CO", url=B_URL
        )
        session.commit()
    engine.dispose()
    return root


@pytest.fixture
def b(b_template: Path, tmp_path: Path) -> Iterator[NodeB]:
    root = tmp_path / "b"
    shutil.copytree(b_template, root)
    settings = make_settings(f"sqlite:///{root / 'b.db'}", root / "var")
    engine = make_engine(settings)
    yield NodeB(settings, engine, create_app(settings))
    engine.dispose()


def b_agreement(b: NodeB, receive: list[str], daily_limit: int | None = None) -> str:
    with b.session() as session:
        peer = session.scalars(select(Peer).where(Peer.node_id == LOCAL)).one()
        agreement = add_agreement(
            session, TEST_CONTEXT, Terms(receive=receive, daily_limit=daily_limit), peer=peer
        )
        session.commit()
        return agreement.reference


@pytest.fixture
def paired(session: Session, settings: Settings, local: node.NodeIdentity, b: NodeB) -> Peer:
    """A and B have pinned each other; A may send, and B receive, vehicle and person
    queries and follow-ups. Returns B as A's peer."""
    with TestClient(b.app, base_url=B_URL) as client:
        description = peers.fetch_description(client, B_URL)
    peer = peers.add_peer(session, TEST_CONTEXT, description, description.fingerprint)
    add_agreement(session, TEST_CONTEXT, Terms(send=[*HIT_CLASSES, "hit:firearm"]), peer=peer)
    session.commit()
    a_description = peers.read_description(node.describe(session, settings))
    with b.session() as b_session:
        peers.add_peer(b_session, TEST_CONTEXT, a_description, a_description.fingerprint)
        b_session.commit()
    return peer


def record_on_b(b: NodeB, username: str = "alice", **changes: Any) -> int:
    values: dict[str, Any] = {
        "reference": "JUA-HIT-1",
        "occurred_from": "2026-11-20T22:15",
        "area": "MX-08-037",
        "offences": [{"iccs": "050211"}],
        "vehicles": [{"status": "stolen", "vin": STOLEN_VIN, "plate": "EFG-12-34"}],
    }
    values.update(changes)
    with b.session() as session:
        principal = principal_for(get_user(session, username))
        incident = create_incident(session, TEST_CONTEXT, principal, IncidentIn(**values))
        session.commit()
        return incident.id


def ask(
    session: Session, settings: Settings, b: NodeB, question: Question, who: str = "alice"
) -> HitQuery:
    """Ask B as ``who`` of A, through B's app; return A's record of the answer."""
    principal = principal_for(get_user(session, who))
    now = utcnow()
    outgoing = hit_queries.prepare(session, settings, principal, question, B, now)

    async def exchange() -> list[hit_queries.Reply]:
        transport = httpx.ASGITransport(app=b.app)
        async with httpx.AsyncClient(transport=transport, base_url=B_URL) as client:
            return await hit_queries.exchange(client, outgoing)

    replies = asyncio.run(exchange())
    (row,) = hit_queries.settle(session, settings, TEST_CONTEXT, principal, outgoing, replies, now)
    session.commit()
    return row


def vin(value: str, purpose: str = "stolen_property_check") -> Question:
    return Question("vin", purpose, value)


def tables_holding(bind: Engine | Connection, *needles: str) -> set[str]:
    """Return the tables of ``bind`` with a text value containing one of ``needles``."""
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return tables_holding(connection, *needles)
    found = set()
    for table in inspect(bind).get_table_names():
        for row in bind.execute(text(f'SELECT * FROM "{table}"')):
            values = [v.decode("latin-1") if isinstance(v, bytes) else v for v in row]
            if any(isinstance(v, str) and n in v.upper() for v in values for n in needles):
                found.add(table)
    return found


def b_audit(b: NodeB, action: str) -> list[AuditEntry]:
    with b.session() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list(session.scalars(query).all())


# Blinding


def test_both_nodes_derive_the_same_key_and_a_third_node_another() -> None:
    a, b_key, c = (OKPKey.generate_key("X25519") for _ in range(3))
    on_a = shared_key("mx-sspc", a, "co-ponal", public_jwk(b_key))
    on_b = shared_key("co-ponal", b_key, "mx-sspc", public_jwk(a))
    on_c = shared_key("pe-pnp", c, "co-ponal", public_jwk(b_key))
    assert on_a == on_b
    assert on_c.secret != on_a.secret and on_c.key_id != on_a.key_id


def test_a_blinded_value_hides_the_identifier_and_depends_on_kind_and_key() -> None:
    key = shared_key("mx-sspc", OKPKey.generate_key("X25519"), "co-ponal", _peer_jwk())
    other = shared_key("mx-sspc", OKPKey.generate_key("X25519"), "co-ponal", _peer_jwk())
    blinded = blind(key, "vin", STOLEN_VIN)
    assert len(blinded) == 43 and STOLEN_VIN not in blinded
    assert blinded == blind(key, "vin", STOLEN_VIN)
    assert blinded != blind(key, "plate", STOLEN_VIN)
    assert blinded != blind(other, "vin", STOLEN_VIN)


def _peer_jwk() -> dict[str, Any]:
    return public_jwk(OKPKey.generate_key("X25519"))


def test_a_person_is_blinded_without_accents_case_or_order_but_with_a_full_birth_date() -> None:
    form = person_form("José Luis", "Vásquez de la Peña", "1980-05-01")
    assert form == person_form("jose luis", "Pena Vazquez", "1980-05-01")
    assert form != person_form("José Luis", "Vásquez de la Peña", "1980-05-02")
    assert person_form("José", "Vásquez", "1980-05") is None
    assert person_form("", "Vásquez", "1980-05-01") is None


@pytest.mark.parametrize(
    ("question", "code"),
    [
        (Question("vin", "stolen_property_check", "1234"), "FED-150"),
        (Question("vin", "curiosity", STOLEN_VIN), "FED-151"),
        (Question("person", "wanted_check", given_names="Ana"), "FED-152"),
        (Question("ship", "wanted_check", "X"), "FED-153"),
    ],
)
def test_a_question_nothing_usable_is_left_of_is_refused(question: Question, code: str) -> None:
    with pytest.raises(DomainError) as refused:
        question.normalised()
    assert refused.value.code == code


# Asking and answering


def test_a_stolen_vin_on_b_is_a_hit_with_a_reference_and_an_unknown_one_no_hit(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b)

    hit = ask(session, settings, b, vin("1m8 gdm9ax-kp042788"))
    missed = ask(session, settings, b, vin(UNKNOWN_VIN, "border_check"))

    assert hit.outcome == HitOutcome.HIT and len(json.loads(hit.references)) == 1
    assert (missed.outcome, json.loads(missed.references)) == (HitOutcome.NO_HIT, [])
    asked = session.scalars(select(AuditEntry).where(AuditEntry.action == "hits.query")).all()
    assert [(e.actor_username, json.loads(e.detail)["outcome"]) for e in asked[-2:]] == [
        ("os:pytest", "hit"),
        ("os:pytest", "no_hit"),
    ]
    answered = b_audit(b, "federation.hit_query")
    assert [(e.peer_node, json.loads(e.detail)["purpose"]) for e in answered] == [
        (LOCAL, "stolen_property_check"),
        (LOCAL, "border_check"),
    ]
    with b.session() as b_session:
        received = b_session.scalars(select(HitQueryReceived)).all()
        assert [r.outcome for r in received] == [HitOutcome.HIT, HitOutcome.NO_HIT]
        assert json.loads(received[0].matches).keys() == set(json.loads(hit.references))
    assert tables_holding(b.engine, UNKNOWN_VIN) == set()
    # The stolen VIN is in B's own records, and nowhere in what B keeps of the queries.
    assert tables_holding(b.engine, STOLEN_VIN) <= {"vehicles", "incident_versions"}
    assert tables_holding(session.connection(), UNKNOWN_VIN) == set()


def test_each_hit_has_a_reference_of_its_own_across_kinds_and_queries(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    incident_id = record_on_b(b, persons=[SUSPECT])
    plate = Question("plate", "stolen_property_check", "EFG-12-34")
    questions = [vin(STOLEN_VIN), plate, JOSE_LUIS, vin(STOLEN_VIN)]

    answers = [ask(session, settings, b, question) for question in questions]

    assert [a.outcome for a in answers] == [HitOutcome.HIT] * 4
    references = [r for a in answers for r in json.loads(a.references)]
    assert len(set(references)) == len(references) == 4
    with b.session() as b_session:
        received = b_session.scalars(select(HitQueryReceived).order_by(HitQueryReceived.id))
        assert [json.loads(r.matches) for r in received] == [{r: incident_id} for r in references]


def test_a_vehicle_recovered_or_in_a_restricted_incident_is_no_hit(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b, vehicles=[{"status": "recovered", "vin": STOLEN_VIN}])
    record_on_b(
        b, reference="JUA-HIT-2", restricted=True, vehicles=[{"status": "stolen", "plate": "XYZ9"}]
    )
    assert ask(session, settings, b, vin(STOLEN_VIN)).outcome == HitOutcome.NO_HIT
    plate = Question("plate", "stolen_property_check", "xyz-9")
    assert ask(session, settings, b, plate).outcome == HitOutcome.NO_HIT


def test_the_index_follows_records_made_after_it_was_built(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    assert ask(session, settings, b, vin(STOLEN_VIN)).outcome == HitOutcome.NO_HIT
    record_on_b(b)
    assert ask(session, settings, b, vin(STOLEN_VIN)).outcome == HitOutcome.HIT


def test_a_person_is_found_by_a_variant_of_their_name_and_their_date_of_birth(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b, persons=[SUSPECT])

    def person(surnames: str, born: str) -> Question:
        return Question("person", "wanted_check", given_names="jose luis", surnames=surnames,
                        date_of_birth=born)  # fmt: skip

    assert ask(session, settings, b, person("Pena Vazquez", "1980-05-01")).outcome == "hit"
    assert ask(session, settings, b, person("Pena Vazquez", "1981-05-01")).outcome == "no_hit"
    assert tables_holding(b.engine, "1981-05-01") == set()


def test_b_refuses_a_class_its_agreement_does_not_let_it_receive(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    firearm = Question("firearm", "criminal_investigation", "AB-1234")
    refused = ask(session, settings, b, firearm)
    assert (refused.outcome, refused.code) == (HitOutcome.REFUSED, "FED-112")
    (denied,) = b_audit(b, "federation.envelope_receive")
    assert (denied.outcome, json.loads(denied.detail)["code"]) == ("denied", "FED-112")


def test_a_revoked_agreement_answers_nothing(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    reference = b_agreement(b, HIT_CLASSES)
    record_on_b(b)
    with b.session() as b_session:
        revoke_agreement(b_session, TEST_CONTEXT, reference)
        b_session.commit()
    refused = ask(session, settings, b, vin(STOLEN_VIN))
    assert (refused.outcome, refused.code, refused.references) == ("refused", "FED-112", "[]")


def test_the_daily_quota_of_queries_refuses_once_used_up(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES, daily_limit=2)
    outcomes = [ask(session, settings, b, vin(UNKNOWN_VIN)) for _ in range(3)]
    assert [(o.outcome, o.code) for o in outcomes] == [
        ("no_hit", None),
        ("no_hit", None),
        ("refused", "FED-114"),
    ]


def test_without_a_quota_of_its_own_an_agreement_answers_1000_queries_a_day(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    reference = b_agreement(b, HIT_CLASSES)
    an_hour_ago = utcnow() - dt.timedelta(hours=1)
    with b.session() as b_session:
        a = b_session.scalars(select(Peer).where(Peer.node_id == LOCAL)).one()
        agreement_id = latest_version(b_session, reference).id
        b_session.add_all(
            HitQueryReceived(
                envelope_id=str(uuid.uuid4()),
                peer_id=a.id,
                agreement_id=agreement_id,
                kind="plate",
                blinded="x" * 43,
                purpose="border_check",
                outcome=HitOutcome.NO_HIT,
                received_at=an_hour_ago,
            )
            for _ in range(999)
        )
        b_session.commit()

    thousandth = ask(session, settings, b, vin(UNKNOWN_VIN))
    refused = ask(session, settings, b, vin(UNKNOWN_VIN))
    principal = principal_for(get_user(session, "alice"))
    (sent,) = hit_queries.prepare(session, settings, principal, vin(UNKNOWN_VIN), B, utcnow())
    with TestClient(b.app, base_url=B_URL) as client:
        again = client.post(
            "/federation/hits", content=sent.token, headers={"content-type": "application/jose"}
        )

    assert (thousandth.outcome, thousandth.code) == (HitOutcome.NO_HIT, None)
    assert (refused.outcome, refused.code) == (HitOutcome.REFUSED, "FED-162")
    assert (again.status_code, again.json()["code"]) == (429, "FED-162")
    # The oldest query counted leaves the last 24 hours in 23 hours.
    assert 23 * 3600 - 60 < int(again.headers["Retry-After"]) <= 23 * 3600


def test_a_replayed_query_is_refused(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    principal = principal_for(get_user(session, "alice"))
    (sent,) = hit_queries.prepare(session, settings, principal, vin(STOLEN_VIN), B, utcnow())
    headers = {"content-type": "application/jose"}
    with TestClient(b.app, base_url=B_URL) as client:
        first = client.post("/federation/hits", content=sent.token, headers=headers)
        again = client.post("/federation/hits", content=sent.token, headers=headers)
    assert first.status_code == 200 and first.headers["content-type"] == "application/jose"
    assert (again.status_code, again.json()["code"]) == (409, "FED-110")


def test_a_query_under_keys_b_has_rotated_is_refused_not_answered_no_hit(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b)
    with b.session() as b_session:
        node.rotate_keys(b_session, TEST_CONTEXT, b.settings)
        b_session.commit()
    b.app = create_app(b.settings)
    refused = ask(session, settings, b, vin(STOLEN_VIN))
    assert (refused.outcome, refused.code) == ("refused", "FED-154")


def test_an_answer_not_signed_by_the_peer_asked_is_an_error(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    principal = principal_for(get_user(session, "alice"))
    (sent,) = hit_queries.prepare(session, settings, principal, vin(STOLEN_VIN), B, utcnow())
    forged = hit_queries.Reply(200, sent.token.encode(), "application/jose")  # A's own signature
    found = hit_queries.verdict(session, settings, LOCAL, sent, forged, utcnow())
    assert (found.outcome, found.code) == (HitOutcome.ERROR, "FED-103")


# Follow-ups and owners' watches


def test_a_watched_record_tells_its_owner_of_hits_and_follow_ups(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    incident_id = record_on_b(b)
    with TestClient(b.app, base_url=B_URL) as client:
        token = _token(b, "alice")
        watched = client.post(
            "/api/v1/hits/watches", json={"incident_id": incident_id}, headers=token
        )
        assert watched.status_code == 201, watched.text
        hit = ask(session, settings, b, vin(STOLEN_VIN))
        alice = principal_for(get_user(session, "alice"))
        hit_queries.follow_up(session, settings, TEST_CONTEXT, alice, hit.envelope_id)
        session.commit()
        queued = session.scalars(
            select(OutboxEnvelope).where(OutboxEnvelope.envelope_id == hit.followup_envelope_id)
        ).one()
        delivered = client.post(
            "/federation/inbox", content=queued.token, headers={"content-type": "application/jose"}
        )
        assert delivered.status_code == 202, delivered.text
        listed = client.get("/api/v1/hits/notifications", headers=token).json()
        charlie = client.get("/api/v1/hits/notifications", headers=_token(b, "charlie")).json()
    assert [(n["event"], n["peer"], n["incident_id"]) for n in listed["items"]] == [
        ("followup", LOCAL, incident_id),
        ("hit", LOCAL, incident_id),
    ]
    assert listed["items"][0]["requested_by"] == "MX-SSPM-JUA/alice"
    assert charlie["items"] == []


def test_a_reference_is_followed_up_only_by_the_peer_and_in_the_query_it_was_given(
    session: Session, settings: Settings, paired: Peer, b: NodeB, tmp_path: Path
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b)
    first = ask(session, settings, b, vin(STOLEN_VIN))
    second = ask(session, settings, b, vin(STOLEN_VIN))
    (reference,) = json.loads(first.references)
    c_settings, b_on_c = third_node(tmp_path, b)
    with Session(make_engine(c_settings)) as c_session:
        from_c = followup_token(c_session, c_settings, b_on_c, first.envelope_id, reference)

    with TestClient(b.app, base_url=B_URL) as client:
        by_c = deliver(client, from_c)
        in_second = deliver(
            client, followup_token(session, settings, paired, second.envelope_id, reference)
        )
        right = deliver(
            client, followup_token(session, settings, paired, first.envelope_id, reference)
        )

    assert (by_c.status_code, by_c.json()["code"]) == (422, "FED-155")
    assert (in_second.status_code, in_second.json()["code"]) == (422, "FED-155")
    assert right.status_code == 202, right.text


def test_a_reference_can_be_followed_up_for_30_days(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    record_on_b(b)
    hit = ask(session, settings, b, vin(STOLEN_VIN))
    alice = principal_for(get_user(session, "alice"))
    hit_queries.follow_up(session, settings, TEST_CONTEXT, alice, hit.envelope_id)
    session.commit()
    queued = session.scalars(
        select(OutboxEnvelope).where(OutboxEnvelope.envelope_id == hit.followup_envelope_id)
    ).one()
    a_month_ago = utcnow() - dt.timedelta(days=30, minutes=1)
    with b.session() as b_session:
        b_session.execute(update(HitQueryReceived).values(received_at=a_month_ago))
        b_session.commit()

    with TestClient(b.app, base_url=B_URL) as client:
        late = deliver(client, queued.token)
    older = ask(session, settings, b, vin(STOLEN_VIN))
    older.asked_at = a_month_ago
    with pytest.raises(DomainError) as refused:
        hit_queries.follow_up(session, settings, TEST_CONTEXT, alice, older.envelope_id)

    assert (late.status_code, late.json()["code"]) == (410, "FED-161")
    assert refused.value.code == "FED-161"
    with b.session() as b_session:
        assert b_session.scalars(select(HitNotification)).all() == []


C = "pe-pnp"


def third_node(tmp_path: Path, b: NodeB) -> tuple[Settings, Peer]:
    """Set up a third node, C, and pin it and B on each other, with agreements that let
    C send follow-ups to B; return C's settings and B as C's peer."""
    settings = make_settings(f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "c")
    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine, expire_on_commit=False) as session:
        node.init_node(
            session, TEST_CONTEXT, settings, node_id=C, name="PNP", country="PE", url="https://c"
        )
        c_description = peers.read_description(node.describe(session, settings))
        with TestClient(b.app, base_url=B_URL) as client:
            b_description = peers.fetch_description(client, B_URL)
        b_peer = peers.add_peer(session, TEST_CONTEXT, b_description, b_description.fingerprint)
        add_agreement(session, TEST_CONTEXT, Terms(send=["case:information_request"]), peer=b_peer)
        session.commit()
    with b.session() as b_session:
        c_peer = peers.add_peer(b_session, TEST_CONTEXT, c_description, c_description.fingerprint)
        terms = Terms(receive=["case:information_request"])
        add_agreement(b_session, TEST_CONTEXT, terms, peer=c_peer)
        b_session.commit()
    engine.dispose()
    return settings, b_peer


def followup_token(
    session: Session, settings: Settings, to: Peer, query: str, reference: str
) -> str:
    """Return a ``hit.followup`` of ``reference`` in ``query``, sealed by the node of
    ``session`` for ``to`` as its outbox would send it."""
    body = {
        "query": query,
        "reference": reference,
        "purpose": "stolen_property_check",
        "requested_by": "AGENCY/someone",
    }
    identity = node.identity(session)
    queued = outbox.enqueue(
        session, identity.node_id, node.load_keys(session, settings), to, "hit.followup", body
    )
    session.commit()
    return queued.token


def deliver(client: TestClient, token: str) -> httpx.Response:
    return client.post(
        "/federation/inbox", content=token, headers={"content-type": "application/jose"}
    )


def test_only_a_hit_can_be_followed_up(
    session: Session, settings: Settings, paired: Peer, b: NodeB
) -> None:
    b_agreement(b, HIT_CLASSES)
    missed = ask(session, settings, b, vin(UNKNOWN_VIN))
    alice = principal_for(get_user(session, "alice"))
    charlie = principal_for(get_user(session, "charlie"))
    for who, code in ((alice, "FED-157"), (charlie, "FED-156")):
        with pytest.raises(DomainError) as refused:
            hit_queries.follow_up(session, settings, TEST_CONTEXT, who, missed.envelope_id)
        assert refused.value.code == code


def _token(b: NodeB, username: str) -> dict[str, str]:
    from atalaya.accounts.service import create_token

    with b.session() as session:
        token, _ = create_token(session, TEST_CONTEXT, get_user(session, username), days=1)
        session.commit()
    return {"Authorization": f"Bearer {token}"}


# The API, as each persona


def test_the_api_refuses_anonymous_and_auditors(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    body = {"type": "vin", "value": STOLEN_VIN, "purpose": "border_check"}
    anonymous = client.post("/api/v1/hits", json=body)
    auditor = client.post("/api/v1/hits", json=body, headers=auth("auditor"))
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "AUTH-101")
    assert (auditor.status_code, auditor.json()["code"]) == (403, "AUTH-111")


def test_the_api_says_when_no_peer_may_be_asked(
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    local: node.NodeIdentity,
) -> None:
    body = {"type": "vin", "value": STOLEN_VIN, "purpose": "border_check"}
    response = client.post("/api/v1/hits", json=body, headers=auth("bob"))
    assert (response.status_code, response.json()["code"]) == (403, "FED-158")
    bad = client.post("/api/v1/hits", json={**body, "value": "12"}, headers=auth("bob"))
    assert (bad.status_code, bad.json()["code"]) == (422, "FED-150")


def test_a_peers_query_expires(
    session: Session, settings: Settings, paired: Peer, b: NodeB, monkeypatch: pytest.MonkeyPatch
) -> None:
    b_agreement(b, HIT_CLASSES)
    principal = principal_for(get_user(session, "alice"))
    (sent,) = hit_queries.prepare(session, settings, principal, vin(STOLEN_VIN), B, utcnow())
    later = utcnow() + dt.timedelta(hours=1)
    monkeypatch.setattr("atalaya.federation.hits_api.utcnow", lambda: later)
    with TestClient(b.app, base_url=B_URL) as client:
        response = client.post(
            "/federation/hits", content=sent.token, headers={"content-type": "application/jose"}
        )
    assert (response.status_code, response.json()["code"]) == (422, "FED-107")
    with b.session() as b_session:
        assert b_session.scalars(select(HitNotification)).all() == []
        assert b_session.scalars(select(HitQueryReceived)).all() == []

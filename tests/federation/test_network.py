"""Three real nodes on 127.0.0.1, each ``atalaya serve`` (with its embedded delivery
worker) on its own SQLite database: A and B have an agreement both ways, A and C none.

What must hold: what A publishes reaches B and never C; forged, replayed, expired and
unsigned envelopes are refused by B and audited; B down while A publishes 1,000, or
killed with SIGKILL mid-batch, ends with B holding each exactly once; revoking the
agreement stops delivery at once. Each is checked with ``node.ping`` envelopes and with
alerts (``POST /api/v1/alerts`` on A, ``GET /api/v1/alerts?origin=received`` on B).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.accounts import service as accounts
from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.federation import envelopes, node, peers
from atalaya.federation.agreements import Terms, add_agreement
from atalaya.federation.keys import NodeKeys
from atalaya.federation.models import InboxEnvelope, OutboxEnvelope, Peer, PeerDelivery
from atalaya.federation.outbox import enqueue
from atalaya.settings import Settings
from conftest import TEST_CONTEXT, free_port, make_settings, prepare

pytestmark = pytest.mark.slow
runner = CliRunner()
ALERT_CLASSES = ["alert:stolen_vehicle", "alert:wanted"]
# Quick retries and a quick breaker, so that a peer back up is reached within a second.
DELIVERY = {
    "federation_retry_base_seconds": 0.1,
    "federation_retry_cap_seconds": 1.0,
    "federation_breaker_failures": 3,
    "federation_breaker_open_seconds": 1.0,
    "federation_worker_poll_seconds": 0.1,
    "federation_timeout_seconds": 5.0,
}


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Return ``condition()`` once it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Node:
    """A node: its settings, its database (read from here too), its server process."""

    node_id: str
    settings: Settings
    port: int
    engine: Engine
    process: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        values = {
            "ATALAYA_DATABASE_URL": self.settings.database_url,
            "ATALAYA_DATA_DIR": str(self.settings.data_dir),
            "ATALAYA_SECRET_KEY": f"{self.node_id}-test-secret",
            "ATALAYA_ARGON2_TIME_COST": "1",
            "ATALAYA_ARGON2_MEMORY_KIB": "1024",
        }
        values.update({f"ATALAYA_{k.upper()}": str(v) for k, v in DELIVERY.items()})
        return values

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "atalaya", "serve", "--port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._healthy, f"{self.node_id} to serve", 30)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)
            self.process = None

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def command(self, *args: str) -> Any:
        return runner.invoke(cli, list(args), env=self.env)

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            with self.session() as session:
                user = accounts.get_user(session, username)
                self.tokens[username], _ = accounts.create_token(
                    session, TEST_CONTEXT, user, days=1
                )
                session.commit()
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    @property
    def keys(self) -> NodeKeys:
        return NodeKeys.load(self.settings)


def make_node(root: Path, node_id: str, country: str) -> Node:
    port = free_port()
    settings = make_settings(f"sqlite:///{root / node_id}.db", root / node_id)
    engine = make_engine(settings)
    prepare(engine, settings)
    created = Node(node_id, settings, port, engine)
    with created.session() as session:
        node.init_node(session, TEST_CONTEXT, settings, node_id=node_id, name=node_id.upper(),
                       country=country, url=created.url)  # fmt: skip
        session.commit()
    return created


def pin(at: Node, other: Node) -> Peer:
    with httpx.Client(timeout=5) as client:
        description = peers.fetch_description(client, other.url)
    with at.session() as session:
        peer = peers.add_peer(session, TEST_CONTEXT, description, description.fingerprint)
        session.commit()
        return peer


def agree(at: Node, other: str, send: list[str], receive: list[str]) -> str:
    with at.session() as session:
        peer = peers.get_peer(session, other)
        agreement = add_agreement(session, TEST_CONTEXT, Terms(send, receive), peer=peer)
        session.commit()
        return agreement.reference


@dataclass
class Network:
    a: Node
    b: Node
    c: Node
    agreement: str  # A's agreement with B

    def agree_again(self) -> None:
        both = ["node:ping", *ALERT_CLASSES]
        self.agreement = agree(self.a, "b-node", send=both, receive=both)


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    root = tmp_path_factory.mktemp("network")
    a, b, c = (make_node(root, *n) for n in [("a-node", "MX"), ("b-node", "CO"), ("c-node", "AR")])
    try:
        for n in (a, b, c):
            n.start()
        for at, other in [(a, b), (a, c), (b, a), (c, a)]:
            pin(at, other)
        both = ["node:ping", *ALERT_CLASSES]
        reference = agree(a, "b-node", send=both, receive=both)
        agree(b, "a-node", send=both, receive=both)
        yield Network(a, b, c, reference)
    finally:
        for n in (a, b, c):
            n.stop()
            n.engine.dispose()


# What A publishes, and how to tell what B holds: pings, then alerts.


def publish_pings(a: Node, count: int, to: str = "b-node") -> list[str]:
    """Queue ``count`` pings on A (as `atalaya peers ping` does); return their ids."""
    with a.session() as session:
        identity, keys = node.identity(session), node.load_keys(session, a.settings)
        peer = peers.get_peer(session, to)
        ids = [
            enqueue(session, identity.node_id, keys, peer, "node.ping", {"n": n}).envelope_id
            for n in range(count)
        ]
        session.commit()
    return ids


def pings_held(at: Node, ids: list[str]) -> list[str]:
    """Return the envelope ids of ``ids`` in ``at``'s inbox, one entry per inbox row."""
    with at.session() as session:
        found = session.scalars(
            select(InboxEnvelope.envelope_id).where(InboxEnvelope.type == "node.ping")
        )
        wanted = set(ids)
        return [i for i in found if i in wanted]


def stolen_vehicle(n: int) -> dict[str, Any]:
    return {
        "type": "stolen_vehicle",
        "summary": f"Camioneta robada número {n}.",
        "review_date": (dt.date.today() + dt.timedelta(days=365)).isoformat(),
        "vehicle": {"plate": f"NET-{n:05d}", "make": "Nissan", "colour": "blanco"},
    }


def publish_alerts(a: Node, count: int, to: str = "b-node") -> list[str]:
    """Issue ``count`` alerts on A through its API; return their uids."""
    uids = []
    with httpx.Client(base_url=a.url, headers=a.headers("alice"), timeout=30) as client:
        for n in range(count):
            response = client.post("/api/v1/alerts", json=stolen_vehicle(n))
            assert response.status_code == 201, response.text
            uids.append(response.json()["uid"])
    return uids


def alerts_held(at: Node, uids: list[str]) -> list[str]:
    """Return the uids of ``uids`` that ``at`` holds as received alerts, as its API lists
    them (one entry per alert listed)."""
    wanted, found = set(uids), []
    with httpx.Client(base_url=at.url, headers=at.headers("alice"), timeout=30) as client:
        cursor = None
        while True:
            params: dict[str, str | int] = {"origin": "received", "limit": 200}
            if cursor:
                params["cursor"] = cursor
            response = client.get("/api/v1/alerts", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            found += [a["uid"] for a in page["items"] if a["uid"] in wanted]
            if not (cursor := page["next"]):
                return found


@dataclass(frozen=True)
class Kind:
    publish: Callable[[Node, int], list[str]]
    held: Callable[[Node, list[str]], list[str]]


KINDS = {"ping": Kind(publish_pings, pings_held), "alert": Kind(publish_alerts, alerts_held)}


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


def settled(a: Node) -> bool:
    """Return whether A's outbox holds no pending envelope: each delivered or failed."""
    with a.session() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(OutboxEnvelope)
            .where(OutboxEnvelope.status == "pending")
        )
        return pending == 0


def test_what_a_publishes_reaches_b_under_the_agreement_and_never_c(
    network: Network, kind: Kind
) -> None:
    ids = kind.publish(network.a, 3)
    assert wait_for(lambda: len(kind.held(network.b, ids)) == 3, "B to hold all three")
    wait_for(lambda: settled(network.a), "A's outbox to empty")
    assert kind.held(network.c, ids) == []
    with network.a.session() as session:
        c_peer = peers.get_peer(session, "c-node")
        queued_for_c = session.scalar(
            select(func.count())
            .select_from(OutboxEnvelope)
            .where(OutboxEnvelope.peer_id == c_peer.id)
        )
    assert queued_for_c == 0
    with network.c.session() as session:
        assert session.scalar(select(func.count()).select_from(InboxEnvelope)) == 0


def test_a_ping_to_a_peer_without_agreement_is_refused_at_the_source(network: Network) -> None:
    refused = network.a.command("peers", "ping", "c-node")
    assert refused.exit_code == 1 and "FED-112" in refused.output
    queued = network.a.command("peers", "ping", "b-node")
    assert queued.exit_code == 0, queued.output
    wait_for(lambda: last_ping(network.b, "a-node"), "B to record A's ping")


def last_ping(at: Node, peer: str) -> dt.datetime | None:
    with at.session() as session:
        return session.scalar(select(Peer.last_ping_at).where(Peer.node_id == peer))


def rejections(at: Node, code: str) -> list[AuditEntry]:
    with at.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "federation.envelope_receive", AuditEntry.outcome == "denied"
            )
        ).all()
        return [e for e in entries if json.loads(e.detail).get("code") == code]


def test_b_refuses_and_audits_forged_replayed_expired_and_unsigned_envelopes(
    network: Network,
) -> None:
    a, b = network.a, network.b
    (delivered,) = publish_pings(a, 1)
    wait_for(lambda: pings_held(b, [delivered]), "B to hold the ping")
    with a.session() as session:
        token = session.scalar(
            select(OutboxEnvelope.token).where(OutboxEnvelope.envelope_id == delivered)
        )
    assert token is not None
    header, payload, signature = token.split(".")
    claims = json.loads(envelopes.unverified_payload(token))
    forged_claims = {**claims, "id": envelopes.new_envelope_id(), "body": {"n": 666}}
    forged = envelopes.base64.urlsafe_b64encode(envelopes.canonical(forged_claims)).rstrip(b"=")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    expired = envelopes.seal(
        envelopes.Envelope(envelopes.new_envelope_id(), "a-node", "b-node", "node.ping",
                           long_ago, long_ago + dt.timedelta(hours=1), {}),
        a.keys.signing,
    )  # fmt: skip
    unsigned = "eyJhbGciOiJub25lIn0." + payload + "."
    cases = [
        (f"{header}.{forged.decode()}.{signature}", 401, "FED-102"),
        (token, 409, "FED-110"),
        (expired, 422, "FED-107"),
        (unsigned, 400, "FED-101"),
    ]
    for sent, status, code in cases:
        before = len(rejections(b, code))
        response = httpx.post(f"{b.url}/federation/inbox", content=sent,
                              headers={"content-type": "application/jose"}, timeout=10)  # fmt: skip
        assert (response.status_code, response.json()["code"]) == (status, code)
        assert len(rejections(b, code)) == before + 1, code
    assert pings_held(b, [forged_claims["id"]]) == []


def test_b_down_while_a_publishes_1000_holds_each_exactly_once_after_restart(
    network: Network, kind: Kind
) -> None:
    a, b = network.a, network.b
    b.stop()
    started = time.monotonic()
    try:
        ids = kind.publish(a, 1000)
        published = time.monotonic() - started
        # A's worker has been trying, and failing, meanwhile.
        wait_for(lambda: last_error(a, "b-node"), "A to record a failure")
    finally:
        b.start()
    wait_for(lambda: settled(a), "A to deliver the 1,000", 120)
    held = kind.held(b, ids)
    assert len(held) == 1000 and set(held) == set(ids)
    print(f"published 1000 in {published:.1f}s, all held {time.monotonic() - started:.1f}s")


def last_error(at: Node, peer: str) -> str | None:
    with at.session() as session:
        return session.scalar(
            select(PeerDelivery.last_error)
            .join(Peer, Peer.id == PeerDelivery.peer_id)
            .where(Peer.node_id == peer)
        )


def test_b_killed_mid_batch_loses_nothing_and_doubles_nothing(network: Network, kind: Kind) -> None:
    a, b = network.a, network.b
    ids = kind.publish(a, 300)
    wait_for(lambda: 0 < len(pings_or_inbox(b, ids, kind)) < 300, "B to be part way", 60)
    b.stop(signal.SIGKILL)
    partial = len(pings_or_inbox(b, ids, kind))
    b.start()
    wait_for(lambda: settled(a), "A to deliver the rest", 120)
    held = kind.held(b, ids)
    assert len(held) == 300 and set(held) == set(ids)
    assert partial < 300


def pings_or_inbox(at: Node, ids: list[str], kind: Kind) -> list[str]:
    """What ``at`` holds of ``ids``, read from its database (it may be down)."""
    if kind.publish is publish_pings:
        return pings_held(at, ids)
    from atalaya.alerts.models import Alert

    with at.session() as session:
        return list(session.scalars(select(Alert.uid).where(Alert.uid.in_(ids))))


def last_outbox_id(a: Node) -> int:
    with a.session() as session:
        return session.scalar(select(func.max(OutboxEnvelope.id))) or 0


def test_revoking_the_agreement_stops_delivery_at_once(network: Network, kind: Kind) -> None:
    a, b = network.a, network.b
    mark = last_outbox_id(a)
    b.stop()
    try:
        queued = kind.publish(a, 5)  # waiting for B when the agreement is revoked
        revoked = a.command("agreements", "revoke", network.agreement)
        assert revoked.exit_code == 0, revoked.output
        after = kind.publish(a, 1) if kind.publish is publish_alerts else []
    finally:
        b.start()
    try:
        wait_for(lambda: settled(a), "A to settle its queue")
        with a.session() as session:
            rows = session.scalars(select(OutboxEnvelope).where(OutboxEnvelope.id > mark)).all()
        assert len(rows) >= 5
        assert {(r.status, (r.last_error or "")[:7]) for r in rows} == {("failed", "FED-140")}
        assert kind.held(b, queued + after) == []
    finally:
        network.agree_again()

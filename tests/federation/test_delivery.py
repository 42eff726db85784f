"""The delivery worker posts each peer's queue in order, through a fake transport:
retries with capped, jittered backoff, a circuit breaker per peer, expiry, revocation
that stops delivery at once, and no envelope posted twice by two workers."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.audit.models import AuditEntry
from atalaya.db import Database, make_engine, utcnow
from atalaya.federation import node
from atalaya.federation.agreements import Terms, add_agreement, revoke_agreement
from atalaya.federation.delivery import Policy, Worker
from atalaya.federation.envelopes import unverified_payload
from atalaya.federation.models import (
    Agreement,
    BreakerState,
    OutboxEnvelope,
    Peer,
    PeerDelivery,
)
from atalaya.federation.outbox import enqueue
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

Handler = Callable[[httpx.Request], httpx.Response]


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(202, json={"id": envelope_id(request), "status": "accepted"})


def problem(status: int, code: str) -> Handler:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"code": code, "status": status, "title": "refused", "detail": f"{code} said"}
        return httpx.Response(
            status, json=body, headers={"content-type": "application/problem+json"}
        )

    return answer


def envelope_id(request: httpx.Request) -> str:
    return str(json.loads(unverified_payload(request.content.decode()))["id"])


@dataclass
class FakePeer:
    """The peer's inbox as the worker sees it: every post is noted, ``answer`` replies."""

    answer: Handler = accepted
    posted: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/federation/inbox"
        assert request.headers["content-type"] == "application/jose"
        with self.lock:
            self.posted.append(envelope_id(request))
        return self.answer(request)


@dataclass
class Clock:
    """The worker's time: it starts a moment after the test queues its envelopes."""

    now: dt.datetime = field(default_factory=lambda: utcnow() + dt.timedelta(seconds=1))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


def tuned(settings: Settings, **changes: object) -> Settings:
    values: dict[str, object] = {
        "federation_retry_base_seconds": 10.0,
        "federation_retry_cap_seconds": 300.0,
        "federation_breaker_failures": 3,
        "federation_breaker_open_seconds": 600.0,
    }
    values.update(changes)
    return settings.model_copy(update=values)


@pytest.fixture
def sending(session: Session, peer: Peer) -> Agreement:
    """An agreement letting pings go to the peer (``peer`` lets them come from it)."""
    agreement = add_agreement(session, TEST_CONTEXT, Terms(send=["node:ping"]), peer=peer)
    session.commit()
    return agreement


def queue(session: Session, settings: Settings, peer: Peer, count: int, **kw: object) -> list[str]:
    identity = node.identity(session)
    keys = node.load_keys(session, settings)
    ids = [
        enqueue(session, identity.node_id, keys, peer, "node.ping", {"n": n}, **kw).envelope_id  # type: ignore[arg-type]
        for n in range(count)
    ]
    session.commit()
    return ids


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def fake() -> FakePeer:
    return FakePeer()


@pytest.fixture
def worker(db: Database, settings: Settings, fake: FakePeer, clock: Clock) -> Iterator[Worker]:
    with httpx.Client(transport=httpx.MockTransport(fake)) as client:
        yield Worker(db, tuned(settings), client, threads=1, clock=clock, rng=random.Random(7))  # noqa: S311


def rows(session: Session, peer: Peer) -> list[OutboxEnvelope]:
    session.expire_all()
    query = select(OutboxEnvelope).where(OutboxEnvelope.peer_id == peer.id)
    return list(session.scalars(query.order_by(OutboxEnvelope.id)))


def state(session: Session, peer: Peer) -> PeerDelivery:
    session.expire_all()
    found = session.scalar(select(PeerDelivery).where(PeerDelivery.peer_id == peer.id))
    assert found is not None
    return found


def sent_entries(session: Session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "federation.envelope_send")
    return list(session.scalars(query.order_by(AuditEntry.seq)))


def test_it_delivers_a_peers_queue_in_order_and_audits_each_delivery(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer, clock: Clock,
) -> None:  # fmt: skip
    ids = queue(session, settings, peer, 5)
    tally = worker.drain()
    assert (tally.delivered, tally.failed, tally.retried) == (5, 0, 0)
    assert fake.posted == ids
    assert {(r.status, r.attempts, r.delivered_at) for r in rows(session, peer)} == {
        ("delivered", 1, clock.now)
    }
    assert state(session, peer).last_success_at == clock.now
    entries = sent_entries(session)
    assert [e.object_id for e in entries] == ids
    assert {(e.outcome, e.actor_type, json.loads(e.detail)["peer"]) for e in entries} == {
        ("success", "worker", "co-ponal")
    }
    assert worker.drain().handled == 0 and len(fake.posted) == 5


def test_a_replay_answer_means_the_peer_has_it_already(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer,
) -> None:  # fmt: skip
    fake.answer = problem(409, "FED-110")
    queue(session, settings, peer, 1)
    assert worker.drain().delivered == 1
    assert [r.status for r in rows(session, peer)] == ["delivered"]


def test_a_refusal_fails_the_envelope_for_good_with_the_peers_code(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer,
) -> None:  # fmt: skip
    answers = iter([problem(403, "FED-112"), accepted])
    fake.answer = lambda request: next(answers)(request)
    first, second = queue(session, settings, peer, 2)
    tally = worker.drain()
    assert (tally.delivered, tally.failed) == (1, 1)
    refused, delivered = rows(session, peer)
    assert (refused.status, delivered.status) == ("failed", "delivered")
    assert refused.last_error is not None and refused.last_error.startswith("FED-112")
    assert fake.posted == [first, second]
    failure = sent_entries(session)[0]
    assert (failure.object_id, failure.outcome) == (first, "failed")
    assert json.loads(failure.detail)["reason"].startswith("FED-112")


@pytest.mark.parametrize(
    "answer",
    [problem(503, "API-500"), problem(429, "FED-114"), problem(500, "X")],
    ids=["503", "429-quota", "500"],
)
def test_a_passing_failure_puts_the_queue_off_and_keeps_its_order(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer, clock: Clock, answer: Handler,
) -> None:  # fmt: skip
    fake.answer = answer
    first, _ = queue(session, settings, peer, 2)
    assert worker.drain().retried == 1
    assert fake.posted == [first]  # the second waits behind the first
    head, behind = rows(session, peer)
    assert (head.status, head.attempts, behind.attempts) == ("pending", 1, 0)
    assert clock.now <= head.next_attempt_at <= clock.now + dt.timedelta(seconds=10)
    assert head.last_error and behind.last_error is None
    fake.answer = accepted
    clock.advance(10)
    assert worker.drain().delivered == 2
    assert fake.posted == [first, first, _]


def test_no_answer_at_all_is_tried_again(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer,
) -> None:  # fmt: skip
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    fake.answer = unreachable
    queue(session, settings, peer, 1)
    assert worker.drain().retried == 1
    (row,) = rows(session, peer)
    assert row.status == "pending" and row.last_error and row.last_error.startswith("ConnectError")
    assert state(session, peer).last_error == row.last_error


def test_the_backoff_grows_to_its_cap_with_full_jitter() -> None:
    policy = Policy(2.0, 60.0, 5, dt.timedelta(minutes=5), 100, dt.timedelta(minutes=1))
    rng = random.Random(1)  # noqa: S311
    for attempts, ceiling in [(0, 2), (1, 4), (2, 8), (4, 32), (5, 60), (30, 60), (500, 60)]:
        waits = [policy.retry_delay(attempts, rng).total_seconds() for _ in range(400)]
        assert 0 <= min(waits) < ceiling * 0.05
        assert ceiling * 0.95 < max(waits) <= ceiling
        assert ceiling * 0.4 < sum(waits) / len(waits) < ceiling * 0.6


def fail_until_open(worker: Worker, clock: Clock, times: int) -> None:
    for _ in range(times):
        assert worker.run_once().retried == 1
        clock.advance(300)  # past any retry wait (the cap)


def test_the_breaker_opens_after_failures_in_a_row_then_tries_one_envelope(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer, clock: Clock,
) -> None:  # fmt: skip
    fake.answer = problem(503, "API-500")
    ids = queue(session, settings, peer, 3)
    fail_until_open(worker, clock, 3)
    opened = state(session, peer)
    assert opened.breaker(clock.now) == BreakerState.OPEN
    assert opened.consecutive_failures == 3 and opened.open_until is not None
    # Open: due or not, the peer's queue is left alone.
    assert worker.run_once().handled == 0 and len(fake.posted) == 3
    clock.now = opened.open_until
    assert state(session, peer).breaker(clock.now) == BreakerState.HALF_OPEN
    # Half-open, a failed trial opens it again at once.
    assert worker.run_once().retried == 1 and len(fake.posted) == 4
    assert state(session, peer).breaker(clock.now) == BreakerState.OPEN
    # Half-open again: one trial envelope only; its success closes the breaker.
    clock.advance(600)
    fake.answer = accepted
    assert worker.run_once().delivered == 1 and fake.posted[-1] == ids[0]
    closed = state(session, peer)
    assert (closed.breaker(clock.now), closed.consecutive_failures) == (BreakerState.CLOSED, 0)
    assert worker.run_once().delivered == 2
    assert [r.status for r in rows(session, peer)] == ["delivered"] * 3


def test_an_envelope_past_its_expiry_is_dropped_unsent(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer, clock: Clock,
) -> None:  # fmt: skip
    queue(session, settings, peer, 1, lifetime=dt.timedelta(minutes=5))
    clock.advance(301)
    assert worker.drain().failed == 1
    (row,) = rows(session, peer)
    assert row.status == "failed" and row.last_error and row.last_error.startswith("FED-141")
    assert fake.posted == []
    assert sent_entries(session)[-1].outcome == "failed"


def test_revoking_the_agreement_stops_delivery_at_once(
    session: Session, settings: Settings, peer: Peer, sending: Agreement, worker: Worker,
    fake: FakePeer,
) -> None:  # fmt: skip
    def accept_then_revoke(request: httpx.Request) -> httpx.Response:
        revoke_agreement(session, TEST_CONTEXT, sending.reference)
        session.commit()
        return accepted(request)

    fake.answer = accept_then_revoke
    first, *_ = queue(session, settings, peer, 3)
    tally = worker.drain()
    assert (tally.delivered, tally.failed) == (1, 2)
    assert fake.posted == [first]  # revoked while the first was in flight: no more posts
    statuses = [(r.status, (r.last_error or "")[:7]) for r in rows(session, peer)]
    assert statuses == [("delivered", ""), ("failed", "FED-140"), ("failed", "FED-140")]


def test_a_second_worker_leaves_a_peer_alone_while_the_first_holds_its_queue(
    db: Database, session: Session, settings: Settings, peer: Peer, sending: Agreement,
    fake: FakePeer, clock: Clock,
) -> None:  # fmt: skip
    other_posts = FakePeer()
    with httpx.Client(transport=httpx.MockTransport(other_posts)) as client:
        other = Worker(db, tuned(settings), client, threads=1, clock=clock, name="other")
        seen: list[int] = []

        def race(request: httpx.Request) -> httpx.Response:
            seen.append(other.run_once().handled)  # while the first worker is posting
            return accepted(request)

        fake.answer = race
        ids = queue(session, settings, peer, 3)
        with httpx.Client(transport=httpx.MockTransport(fake)) as first_client:
            first = Worker(db, tuned(settings), first_client, threads=1, clock=clock, name="one")
            assert first.drain().delivered == 3
    assert seen == [0, 0, 0] and other_posts.posted == []
    assert fake.posted == ids
    assert state(session, peer).lease_holder is None  # given back


def test_a_lease_left_by_a_dead_worker_runs_out(
    db: Database, session: Session, settings: Settings, peer: Peer, sending: Agreement,
    worker: Worker, fake: FakePeer, clock: Clock,
) -> None:  # fmt: skip
    ids = queue(session, settings, peer, 1)
    session.add(
        PeerDelivery(peer_id=peer.id, consecutive_failures=0, lease_holder="dead",
                     lease_until=clock.now + dt.timedelta(seconds=60))
    )  # fmt: skip
    session.commit()
    assert worker.drain().handled == 0
    clock.advance(61)
    assert worker.drain().delivered == 1 and fake.posted == ids


@pytest.mark.slow
def test_two_workers_with_threads_post_each_envelope_once(
    fresh_database: Settings, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = tuned(fresh_database)
    engine = make_engine(settings)
    with Session(engine) as session:
        node.init_node(session, TEST_CONTEXT, settings, node_id="mx-sspc", name="SSPC",
                       country="MX", url="https://mx-sspc.test")  # fmt: skip
        peers = [
            Peer(node_id=f"peer-{n}", name=f"Peer {n}", country="CO", url=f"https://p{n}.test")
            for n in range(3)
        ]
        session.add_all(peers)
        session.flush()
        for p in peers:
            add_agreement(session, TEST_CONTEXT, Terms(send=["node:ping"]), peer=p)
        session.commit()
        expected = {i for p in peers for i in queue(session, settings, p, 40)}
    engine.dispose()

    fake = FakePeer()

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.001)
        return accepted(request)

    fake.answer = slow
    databases = [Database.from_settings(settings) for _ in range(2)]
    with httpx.Client(transport=httpx.MockTransport(fake)) as client:
        workers = [
            Worker(d, settings.model_copy(update={"federation_delivery_batch": 7}), client)
            for d in databases
        ]
        threads = [threading.Thread(target=w.drain) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for w in workers:
            w.close()
    assert sorted(fake.posted) == sorted(expected)  # each once, none twice
    with databases[0].sessions() as session:
        statuses = session.scalars(select(OutboxEnvelope.status)).all()
        assert statuses == ["delivered"] * len(expected)
    for d in databases:
        d.engine.dispose()

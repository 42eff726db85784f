"""Delivery of the outbox: each peer's queue posted, in order, to the peer's inbox.

A worker (``atalaya worker``, or a thread of ``atalaya serve``) finds the peers whose
oldest pending envelope is due, and for each takes the peer's *lease* (a row of
``federation_peer_delivery``), so that one batch per peer is in flight among all the
worker processes and a peer's envelopes go in the order they were written. It then
posts them one by one and records each outcome in a transaction of its own, holding no
database lock while it waits for the peer:

- 2xx, or 409 ``FED-110`` (the peer has it already): delivered.
- 429, 5xx, no answer: tried again after a random wait of up to
  ``min(cap, base * 2**attempts)`` ("full jitter"); the rest of the peer's queue waits
  behind it. After ``federation_breaker_failures`` such failures in a row the peer's
  breaker opens: its queue is left alone until ``open_until``, then one envelope is
  tried (half-open), which closes the breaker or opens it again.
- any other 4xx: refused for good (``failed``, with the peer's code in ``last_error``).

Before each post the agreement is read again: an envelope whose data class no
agreement in force lets go to the peer any more is never sent (``FED-140``), and one
past its expiry is dropped (``FED-141``). Successes and final failures are audited.

A worker that dies mid-batch leaves its rows pending and its lease to run out; whoever
takes the peer next posts them again, and the peer's inbox, which refuses an envelope
id it holds (409), makes each take effect once.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import httpx
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import Actor, AuditContext
from atalaya.audit.service import Outcome as AuditOutcome
from atalaya.db import Database, utcnow
from atalaya.errors import message_for
from atalaya.federation.agreements import agreement_allowing
from atalaya.federation.handlers import TYPES
from atalaya.federation.models import (
    BreakerState,
    Direction,
    OutboxEnvelope,
    OutboxStatus,
    Peer,
    PeerDelivery,
    PeerStatus,
)
from atalaya.i18n import translator
from atalaya.settings import Settings

log = logging.getLogger(__name__)
INBOX_PATH = "/federation/inbox"
ENVELOPE_MEDIA_TYPE = "application/jose"
WORKER_CONTEXT = AuditContext(Actor("worker", username="delivery"), None, None)


@dataclass(frozen=True)
class Policy:
    """How hard to try: retry waits, the breaker, batch size and lease length."""

    retry_base: float
    retry_cap: float
    breaker_failures: int
    breaker_open: dt.timedelta
    batch: int
    # How long a worker may hold a peer's queue without a word; renewed with each
    # outcome, so it only runs out when a worker died or hangs.
    lease: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.federation_retry_base_seconds,
            settings.federation_retry_cap_seconds,
            settings.federation_breaker_failures,
            dt.timedelta(seconds=settings.federation_breaker_open_seconds),
            settings.federation_delivery_batch,
            dt.timedelta(seconds=max(60.0, 6 * settings.federation_timeout_seconds)),
        )

    def retry_delay(self, attempts: int, rng: random.Random) -> dt.timedelta:
        """Return the wait before the next try of an envelope tried ``attempts`` times
        already: uniform between 0 and ``min(cap, base * 2**attempts)``."""
        ceiling = min(self.retry_cap, self.retry_base * 2 ** min(attempts, 62))
        return dt.timedelta(seconds=rng.uniform(0, ceiling))


class Verdict(StrEnum):
    DELIVERED = "delivered"
    REFUSED = "refused"  # for good
    RETRY = "retry"


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    error: str | None = None  # for last_error: the code, and what it says


def judge(response: httpx.Response) -> Outcome:
    """Return what the peer's answer to a post means for the envelope (decision 0003)."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED)
    code, detail = _problem(response)
    if status == 409 and code == "FED-110":
        return Outcome(Verdict.DELIVERED)
    said = f"{code or f'HTTP {status}'}: {detail}" if detail else code or f"HTTP {status}"
    if 400 <= status < 500 and status != 429:
        return Outcome(Verdict.REFUSED, said[:200])
    return Outcome(Verdict.RETRY, f"HTTP {status} {said}"[:200] if code else said[:200])


def _problem(response: httpx.Response) -> tuple[str | None, str]:
    """Return the problem+json ``code`` and ``detail`` (or ``title``) of an answer."""
    try:
        body = response.json()
    except ValueError:
        return None, ""
    if not isinstance(body, dict):
        return None, ""
    code = body.get("code")
    detail = body.get("detail") or body.get("title") or ""
    return (code if isinstance(code, str) else None), str(detail)


@dataclass(frozen=True)
class Queued:
    """What the worker needs of an outbox row, read before posting it."""

    id: int
    envelope_id: str
    type: str
    token: str
    expires_at: dt.datetime
    next_attempt_at: dt.datetime
    attempts: int


@dataclass
class Tally:
    """What a round did: envelopes delivered, refused or dropped for good, put off."""

    delivered: int = 0
    failed: int = 0
    retried: int = 0

    @property
    def handled(self) -> int:
        return self.delivered + self.failed + self.retried

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.retried += other.retried


def worker_name() -> str:
    """Return a name for this worker, unique among processes and hosts."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    """Delivers the outbox of the database behind ``db`` through ``client``.

    ``threads`` peers are served at once (1: in the calling thread, as tests that share
    one connection need). ``clock`` and ``rng`` are there for tests.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        client: httpx.Client,
        *,
        threads: int = 4,
        name: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        rng: random.Random | None = None,
        jobs: Sequence[Callable[[], int]] = (),
    ) -> None:
        self.db = db
        # Other work of the node's background loop, each returning how much it did
        # (counting incidents for the observatory's indicators).
        self.jobs = list(jobs)
        self.client = client
        self.timeout = settings.federation_timeout_seconds
        self.policy = Policy.from_settings(settings)
        self.name = name or worker_name()
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.language = translator("en")
        self._pool = ThreadPoolExecutor(threads, "delivery") if threads > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def run_once(self) -> Tally:
        """Serve each peer whose queue is due once (a batch each); return what was done."""
        peers = self.due_peers(self.clock())
        tally = Tally()
        serve = self._pool.map if self._pool else map
        for result in serve(self.serve_peer, peers):
            tally.add(result)
        return tally

    def drain(self) -> Tally:
        """Run rounds until nothing is due; return the total. An envelope put off is not
        due again until its wait is over, so this ends."""
        total = Tally()
        while (tally := self.run_once()).handled:
            total.add(tally)
        return total

    def run(self, stop: threading.Event, poll: float) -> None:
        """Deliver until ``stop`` is set, looking for due envelopes every ``poll`` seconds
        when there was nothing to do. A database that is briefly unreachable is logged
        and tried again."""
        while not stop.is_set():
            try:
                handled = self.run_once().handled + sum(job() for job in self.jobs)
            except Exception:  # a worker outlives a bad round: logged, tried again
                log.exception("delivery round failed; trying again in %s s", poll)
                handled = 0
            if not handled:
                stop.wait(poll)

    def due_peers(self, now: dt.datetime) -> list[int]:
        """Return the active peers with a pending envelope due at ``now``."""
        with self.db.read_sessions() as session:
            found = session.scalars(
                select(OutboxEnvelope.peer_id)
                .join(Peer, Peer.id == OutboxEnvelope.peer_id)
                .where(OutboxEnvelope.status == OutboxStatus.PENDING)
                .where(Peer.status == PeerStatus.ACTIVE)
                .group_by(OutboxEnvelope.peer_id)
                .having(func.min(OutboxEnvelope.next_attempt_at) <= now)
                .order_by(OutboxEnvelope.peer_id)
            )
            return list(found)

    def serve_peer(self, peer_id: int) -> Tally:
        """Post a batch of ``peer_id``'s queue, in order, if this worker gets its lease
        and its breaker lets it; return what was done."""
        tally = Tally()
        with self._lease(peer_id) as breaker:
            if breaker is None:
                return tally
            url = self._inbox_url(peer_id)
            limit = 1 if breaker == BreakerState.HALF_OPEN else self.policy.batch
            for row in self._queue(peer_id, limit):
                verdict = self._deliver(peer_id, url, row)
                if verdict is None:
                    break
                setattr(tally, _TALLIED[verdict], getattr(tally, _TALLIED[verdict]) + 1)
                if verdict == Verdict.RETRY:
                    break  # the rest of the queue waits behind it, in order
        return tally

    def _deliver(self, peer_id: int, url: str, row: Queued) -> Verdict | None:
        """Post ``row`` unless it expired, is not due or is no longer allowed; record
        and return the verdict (``None``: not its turn yet)."""
        now = self.clock()
        if row.expires_at <= now:
            error = self._message("FED-141")
            self._record(peer_id, row, Outcome(Verdict.REFUSED, error), now, sent=False)
            return Verdict.REFUSED
        if row.next_attempt_at > now:
            return None
        envelope_type = TYPES.get(row.type)
        if envelope_type is None:
            log.error("envelope type %s is not registered in this process", row.type)
            return None
        if not self._allowed(peer_id, envelope_type.data_class, now):
            error = self._message("FED-140", data_class=envelope_type.data_class)
            self._record(peer_id, row, Outcome(Verdict.REFUSED, error), now, sent=False)
            return Verdict.REFUSED
        outcome = self._post(url, row.token)
        self._record(peer_id, row, outcome, self.clock(), sent=True)
        return outcome.verdict

    def _post(self, url: str, token: str) -> Outcome:
        try:
            response = self.client.post(
                url,
                content=token.encode("ascii"),
                headers={"content-type": ENVELOPE_MEDIA_TYPE},
                timeout=self.timeout,
            )
        except httpx.HTTPError as error:
            return Outcome(Verdict.RETRY, f"{type(error).__name__}: {error}"[:200])
        return judge(response)

    @contextmanager
    def _lease(self, peer_id: int) -> Iterator[BreakerState | None]:
        """Hold ``peer_id``'s queue for this worker while the body runs; yield the
        breaker's state, or ``None`` if another worker holds the queue or the breaker
        is open."""
        now = self.clock()
        with self.db.sessions.begin() as session:
            state = self._delivery_state(session, peer_id)
            taken = session.execute(
                update(PeerDelivery)
                .where(PeerDelivery.peer_id == peer_id)
                .where(or_(PeerDelivery.lease_until.is_(None), PeerDelivery.lease_until <= now))
                .where(or_(PeerDelivery.open_until.is_(None), PeerDelivery.open_until <= now))
                .values(lease_holder=self.name, lease_until=now + self.policy.lease)
                .execution_options(synchronize_session=False)
            )
            breaker = state.breaker(now) if taken.rowcount == 1 else None  # type: ignore[attr-defined]
        if breaker is None:
            yield None
            return
        try:
            yield breaker
        finally:
            with self.db.sessions.begin() as session:
                session.execute(
                    update(PeerDelivery)
                    .where(PeerDelivery.peer_id == peer_id)
                    .where(PeerDelivery.lease_holder == self.name)
                    .values(lease_holder=None, lease_until=None)
                    .execution_options(synchronize_session=False)
                )

    @staticmethod
    def _delivery_state(session: Session, peer_id: int) -> PeerDelivery:
        """Return the peer's delivery row, created on first use (by one worker only: the
        others meet the unique peer id and read the winner's)."""
        query = select(PeerDelivery).where(PeerDelivery.peer_id == peer_id)
        state = session.scalar(query)
        if state is not None:
            return state
        try:
            with session.begin_nested():
                session.add(PeerDelivery(peer_id=peer_id, consecutive_failures=0))
        except IntegrityError:
            pass  # another worker created it meanwhile: read theirs
        found = session.scalar(query)
        assert found is not None
        return found

    def _inbox_url(self, peer_id: int) -> str:
        with self.db.read_sessions() as session:
            url = session.scalar(select(Peer.url).where(Peer.id == peer_id))
        return f"{(url or '').rstrip('/')}{INBOX_PATH}"

    def _queue(self, peer_id: int, limit: int) -> list[Queued]:
        """Return the first ``limit`` pending envelopes for ``peer_id``, oldest first."""
        with self.db.read_sessions() as session:
            rows = session.execute(
                select(
                    OutboxEnvelope.id,
                    OutboxEnvelope.envelope_id,
                    OutboxEnvelope.type,
                    OutboxEnvelope.token,
                    OutboxEnvelope.expires_at,
                    OutboxEnvelope.next_attempt_at,
                    OutboxEnvelope.attempts,
                )
                .where(OutboxEnvelope.peer_id == peer_id)
                .where(OutboxEnvelope.status == OutboxStatus.PENDING)
                .order_by(OutboxEnvelope.id)
                .limit(limit)
            ).all()
        return [Queued(*row) for row in rows]

    def _allowed(self, peer_id: int, data_class: str, now: dt.datetime) -> bool:
        """Return whether an agreement in force lets ``data_class`` go to the peer now,
        read afresh (a revocation committed a moment ago counts)."""
        with self.db.read_sessions() as session:
            peer = session.get(Peer, peer_id)
            if peer is None or peer.status != PeerStatus.ACTIVE:
                return False
            return agreement_allowing(session, peer, Direction.SEND, data_class, now) is not None

    def _record(
        self, peer_id: int, row: Queued, outcome: Outcome, now: dt.datetime, *, sent: bool
    ) -> None:
        """Record ``outcome`` on the envelope and on the peer's delivery state, renew the
        lease, and audit a delivery or a final failure, in one transaction."""
        with self.db.sessions.begin() as session:
            entry = session.get(OutboxEnvelope, row.id, with_for_update=True)
            state = self._delivery_state(session, peer_id)
            if entry is None or entry.status != OutboxStatus.PENDING:
                return  # another worker recorded it after its lease ran out
            if sent:
                entry.attempts += 1
            if outcome.verdict == Verdict.RETRY:
                self._put_off(entry, state, outcome, now, row.attempts)
            else:
                self._settle(session, entry, state, outcome, now, sent)
            if state.lease_holder == self.name:
                state.lease_until = now + self.policy.lease

    def _put_off(
        self,
        entry: OutboxEnvelope,
        state: PeerDelivery,
        outcome: Outcome,
        now: dt.datetime,
        attempts: int,
    ) -> None:
        entry.next_attempt_at = now + self.policy.retry_delay(attempts, self.rng)
        entry.last_error = outcome.error
        state.consecutive_failures += 1
        state.last_failure_at, state.last_error = now, outcome.error
        half_open = state.breaker(now) == BreakerState.HALF_OPEN
        if half_open or state.consecutive_failures >= self.policy.breaker_failures:
            state.open_until = now + self.policy.breaker_open
        log.warning("delivery of %s put off: %s", entry.envelope_id, outcome.error)

    def _settle(
        self,
        session: Session,
        entry: OutboxEnvelope,
        state: PeerDelivery,
        outcome: Outcome,
        now: dt.datetime,
        sent: bool,
    ) -> None:
        """Mark ``entry`` delivered or failed for good, and audit it."""
        delivered = outcome.verdict == Verdict.DELIVERED
        entry.status = OutboxStatus.DELIVERED if delivered else OutboxStatus.FAILED
        entry.last_error = outcome.error
        if delivered:
            entry.delivered_at = state.last_success_at = now
        else:
            state.last_failure_at, state.last_error = now, outcome.error
        if sent:
            # The peer answered: it is reachable, whatever it thought of the envelope.
            state.consecutive_failures, state.open_until = 0, None
        peer = session.get(Peer, entry.peer_id)
        detail: dict[str, object] = {
            "peer": peer.node_id if peer else None,
            "type": entry.type,
            "attempts": entry.attempts,
        }
        if outcome.error:
            detail["reason"] = outcome.error
        audit.record(
            session,
            WORKER_CONTEXT,
            "federation.envelope_send",
            object_type="envelope",
            object_id=entry.envelope_id,
            outcome=AuditOutcome.SUCCESS if delivered else AuditOutcome.FAILED,
            detail=detail,
        )

    def _message(self, code: str, **params: object) -> str:
        return f"{code}: {message_for(code, self.language, params)}"[:200]


_TALLIED = {Verdict.DELIVERED: "delivered", Verdict.REFUSED: "failed", Verdict.RETRY: "retried"}


@contextmanager
def http_client(settings: Settings) -> Iterator[httpx.Client]:
    """Yield the client that posts to peers: no redirects followed, the node's timeout."""
    with httpx.Client(timeout=settings.federation_timeout_seconds, follow_redirects=False) as c:
        yield c


class Background:
    """The delivery worker in a thread of its own, for ``atalaya serve`` (the embedded
    setup): started and stopped with the server."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="delivery", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self, timeout: float = 30.0) -> None:
        self.stop.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        from atalaya.observatory.derived import counting_job

        with http_client(self.settings) as client:
            worker = Worker(self.db, self.settings, client, jobs=[counting_job(self.db)])
            try:
                worker.run(self.stop, self.settings.federation_worker_poll_seconds)
            finally:
                worker.close()

"""Finding persons across the incidents one may see, by name, with a score and reasons.

Candidates come from the name's retrieval keys (``person_name_keys``): for a name of
two or more words, the pairs of sound keys it shares with the searched name, those
sharing the most pairs first; for a single word, that word's sound key. Each candidate
is then compared word by word (``atalaya.matching.names.compare``), and date of birth,
sex and nationality, when both sides give them, confirm or count against it.

A name of two words with a typo in one shares no pair with the record; for it, the
candidates are also looked up by each word alone (the most recent ones).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from atalaya.accounts.authz import Principal
from atalaya.matching.names import compare, query_keys, sounds
from atalaya.records.dates import parse_partial_date
from atalaya.records.models import Incident, Involvement, PersonNameKey
from atalaya.records.service import visible_to

DEFAULT_THRESHOLD = 85.0
# How many candidates are compared in full: those sharing the most keys with the name.
MAX_CANDIDATES = 300
# What a disagreement on each detail takes off the score, and an agreement adds.
PENALTY = {"date_of_birth": 25.0, "sex": 15.0, "nationality": 10.0}
BONUS_DATE_OF_BIRTH = 5.0


@dataclass(frozen=True)
class PersonQuery:
    given_names: str = ""
    surnames: str = ""
    date_of_birth: str | None = None
    sex: str | None = None
    nationality: str | None = None
    threshold: float = DEFAULT_THRESHOLD


@dataclass(frozen=True)
class PersonHit:
    person: Involvement
    incident: Incident
    score: float
    reasons: list[str]


def find_persons(
    session: Session, principal: Principal, query: PersonQuery, limit: int = 50
) -> list[PersonHit]:
    """Return the persons in visible incidents whose score reaches the threshold, best first."""
    name_keys, pairs = query_keys(query.given_names, query.surnames)
    if not name_keys:
        return []
    ids = _candidates(session, principal, name_keys, ranked=pairs)
    hits = _scored(session, query, ids)
    words = sounds(query.given_names, query.surnames)
    if pairs and len(hits) < limit and len(words) == 2:
        # One key at a time, so each lookup walks its index run newest first and stops.
        more = {i for word in words for i in _candidates(session, principal, {word})}
        hits += _scored(session, query, sorted(more - set(ids)))
    return sorted(hits, key=lambda h: (-h.score, -h.incident.id))[:limit]


def _candidates(
    session: Session, principal: Principal, name_keys: set[str], *, ranked: bool = False
) -> list[int]:
    """Return the ids of the visible persons with any of ``name_keys``: those sharing the
    most keys first when ``ranked``, otherwise the most recent."""
    shared = func.count()
    stmt = (
        select(PersonNameKey.involvement_id)
        .join(Involvement, Involvement.id == PersonNameKey.involvement_id)
        .join(Incident, Incident.id == Involvement.incident_id)
        .where(PersonNameKey.key.in_(sorted(name_keys)), visible_to(principal))
        .group_by(PersonNameKey.involvement_id)
        .limit(MAX_CANDIDATES)
    )
    if ranked:
        stmt = stmt.order_by(shared.desc(), PersonNameKey.involvement_id.desc())
    else:
        stmt = stmt.order_by(PersonNameKey.involvement_id.desc())
    return list(session.scalars(stmt))


def _scored(session: Session, query: PersonQuery, ids: list[int]) -> list[PersonHit]:
    if not ids:
        return []
    rows = session.execute(
        select(Involvement, Incident)
        .join(Incident, Incident.id == Involvement.incident_id)
        .where(Involvement.id.in_(ids))
        .options(
            lazyload(Incident.offences),
            lazyload(Incident.persons),
            lazyload(Incident.vehicles),
            lazyload(Incident.firearms),
            lazyload(Incident.documents),
        )
    ).all()
    hits = [_score(query, person, incident) for person, incident in rows]
    return [h for h in hits if h.score >= query.threshold]


def _score(query: PersonQuery, person: Involvement, incident: Incident) -> PersonHit:
    match = compare(query.given_names, query.surnames, person.given_names, person.surnames)
    score, reasons = match.score, list(match.reasons)
    if query.date_of_birth and person.date_of_birth:
        if _dates_overlap(query.date_of_birth, person.date_of_birth):
            score, reasons = (
                min(100.0, score + BONUS_DATE_OF_BIRTH),
                [*reasons, "date of birth agrees"],
            )
        else:
            score, reasons = score - PENALTY["date_of_birth"], [*reasons, "date of birth differs"]
    for detail in ("sex", "nationality"):
        wanted, recorded = getattr(query, detail), getattr(person, detail)
        if wanted and recorded and recorded != "unknown" and wanted != recorded:
            score, reasons = score - PENALTY[detail], [*reasons, f"{detail} differs"]
    return PersonHit(person, incident, round(max(score, 0.0), 1), reasons)


def _dates_overlap(a: str, b: str) -> bool:
    first, second = parse_partial_date(a), parse_partial_date(b)
    if first is None or second is None:
        return False
    return first.earliest <= second.latest and second.earliest <= first.latest

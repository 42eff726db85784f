"""Finding persons across the incidents one may see, by name, with a score and reasons.

Candidates come from the name's retrieval keys (``person_name_keys``): the threes of
sound keys it shares with the searched name, then, if those find too few, the pairs;
for a single word, that word's sound key; those sharing the most keys first. Each candidate
is then compared word by word (``atalaya.matching.names.compare``), and date of birth,
sex and nationality, when both sides give them, confirm or count against it.

A name of two words with a typo in one shares no pair with the record; when the pairs
find nobody, each word is looked up alone (the most recent candidates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session, lazyload

from atalaya.accounts.authz import Principal
from atalaya.errors import DomainError
from atalaya.matching.names import compare, query_stages, sounds
from atalaya.records.dates import before_first_year, parse_partial_date
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


# The columns a candidate is scored on; only the hits kept are then loaded whole.
_SCORED = (
    Involvement.id,
    Involvement.given_names,
    Involvement.surnames,
    Involvement.date_of_birth,
    Involvement.sex,
    Involvement.nationality,
)
Candidate = tuple[int, str, str, str | None, str, str | None]


def check_query(query: PersonQuery, now: dt.datetime | None = None) -> None:
    """Refuse a date of birth a search cannot use, as a record's is refused: not a
    partial date in ASCII digits (``REC-104``), in the future (``REC-102``), before 1900
    (``REC-120``)."""
    if not query.date_of_birth:
        return
    span = parse_partial_date(query.date_of_birth)
    if span is None:
        raise DomainError("REC-104", field="date_of_birth")
    if span.earliest > (now or dt.datetime.now(dt.UTC)):
        raise DomainError("REC-102", field="date_of_birth")
    if before_first_year(span.earliest):
        raise DomainError("REC-120", field="date_of_birth")


def find_persons(
    session: Session, principal: Principal, query: PersonQuery, limit: int = 50
) -> list[PersonHit]:
    """Return the persons in visible incidents whose score reaches the threshold, best first."""
    stages = query_stages(query.given_names, query.surnames)
    scored: dict[int, tuple[float, list[str], int]] = {}
    for name_keys in stages:
        for found in _scored(query, _candidates(session, principal, name_keys)):
            scored[found[2]] = found
        if len(scored) >= limit:
            break
    words = sounds(query.given_names, query.surnames)
    if not scored and len(words) == 2:
        # Two words, and no record has both: perhaps one is misspelt. Look each up
        # alone, one key at a time, so each lookup walks its index run and stops.
        for word in words:
            scored.update(
                (s[2], s) for s in _scored(query, _candidates(session, principal, {word}))
            )
    best = sorted(scored.values(), key=lambda s: (-s[0], -s[2]))[:limit]
    return _hits(session, best)


def _candidates(session: Session, principal: Principal, name_keys: set[str]) -> list[Candidate]:
    """Return the visible persons with any of ``name_keys``, those sharing the most keys
    first, then the most recent; at most ``MAX_CANDIDATES``."""
    ids = (
        select(PersonNameKey.involvement_id)
        .where(PersonNameKey.key.in_(sorted(name_keys)), visible_to(principal, PersonNameKey))
        .limit(MAX_CANDIDATES)
    )
    if len(name_keys) == 1:
        # Each person holds a key once: walk its index run from the newest, and stop.
        ids = ids.order_by(PersonNameKey.involvement_id.desc())
    else:
        ids = ids.group_by(PersonNameKey.involvement_id).order_by(
            func.count().desc(), PersonNameKey.involvement_id.desc()
        )
    rows = session.execute(select(*_SCORED).where(Involvement.id.in_(ids)))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _scored(query: PersonQuery, candidates: list[Candidate]) -> list[tuple[float, list[str], int]]:
    """Return (score, reasons, id) of the candidates that reach the threshold."""
    kept = []
    for candidate in candidates:
        score, reasons = _score(query, *candidate[1:])
        if score >= query.threshold:
            kept.append((score, reasons, candidate[0]))
    return kept


def _hits(session: Session, best: list[tuple[float, list[str], int]]) -> list[PersonHit]:
    if not best:
        return []
    loaded = {
        person.id: (person, incident)
        for person, incident in session.execute(
            select(Involvement, Incident)
            .join(Incident, Incident.id == Involvement.incident_id)
            .where(Involvement.id.in_([i for _, _, i in best]))
            .options(
                lazyload(Incident.offences),
                lazyload(Incident.persons),
                lazyload(Incident.vehicles),
                lazyload(Incident.firearms),
                lazyload(Incident.documents),
            )
        )
    }
    return [PersonHit(*loaded[i], score, reasons) for score, reasons, i in best]


def scores_as_hit(query: PersonQuery, person: Involvement) -> bool:
    """Return whether ``person`` reaches the query's threshold, as a search would find it."""
    score, _ = _score(
        query, person.given_names, person.surnames, person.date_of_birth, person.sex,
        person.nationality,
    )  # fmt: skip
    return score >= query.threshold


def _score(
    query: PersonQuery,
    given: str,
    surnames: str,
    date_of_birth: str | None,
    sex: str,
    nationality: str | None,
) -> tuple[float, list[str]]:
    match = compare(query.given_names, query.surnames, given, surnames)
    score, reasons = match.score, list(match.reasons)
    if query.date_of_birth and date_of_birth:
        if _dates_overlap(query.date_of_birth, date_of_birth):
            score = min(100.0, score + BONUS_DATE_OF_BIRTH)
            reasons.append("date of birth agrees")
        else:
            score -= PENALTY["date_of_birth"]
            reasons.append("date of birth differs")
    for detail, recorded in (("sex", sex), ("nationality", nationality)):
        wanted = getattr(query, detail)
        if wanted and recorded and recorded != "unknown" and wanted != recorded:
            score -= PENALTY[detail]
            reasons.append(f"{detail} differs")
    return round(max(score, 0.0), 1), reasons


def _dates_overlap(a: str, b: str) -> bool:
    first, second = parse_partial_date(a), parse_partial_date(b)
    if first is None or second is None:
        return False
    return first.earliest <= second.latest and second.earliest <= first.latest

"""Finding persons across the incidents one may see, by name, with a score and reasons.

Candidates come from the sound keys of the name searched (``person_name_keys``); each
is then compared word by word (``atalaya.matching.names.compare``), and date of birth,
sex and nationality, when both sides give them, confirm or count against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.matching.names import compare, keys
from atalaya.records.dates import parse_partial_date
from atalaya.records.models import Incident, Involvement, PersonNameKey
from atalaya.records.service import IncidentFilter, visible_incidents

DEFAULT_THRESHOLD = 85.0
MAX_CANDIDATES = 5000
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
    name_keys = keys(query.given_names, query.surnames)
    if not name_keys:
        return []
    visible = visible_incidents(principal, IncidentFilter()).with_only_columns(Incident.id)
    candidates = session.execute(
        select(Involvement, Incident)
        .join(Incident, Incident.id == Involvement.incident_id)
        .where(
            Involvement.id.in_(
                select(PersonNameKey.involvement_id).where(PersonNameKey.key.in_(name_keys))
            )
        )
        .where(Incident.id.in_(visible))
        .limit(MAX_CANDIDATES)
    ).all()
    hits = [_score(query, person, incident) for person, incident in candidates]
    kept = [h for h in hits if h.score >= query.threshold]
    return sorted(kept, key=lambda h: (-h.score, -h.incident.id))[:limit]


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

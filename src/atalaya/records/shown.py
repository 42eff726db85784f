"""What a read of records showed, as its audit entry names it: the ids of the incidents,
persons, vehicles, firearms and identity documents, each list under its kind's name
(``{"incidents": [4, 9], "persons": [12]}``), so that an auditor can tell whose data a
user saw from the entry alone."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from atalaya.records.models import Firearm, IdentityDocument, Incident, Involvement, Vehicle
from atalaya.records.persons import PersonHit
from atalaya.records.things import Hit

Item = Involvement | Vehicle | Firearm | IdentityDocument

# The name of each kind of item in an entry's detail, as in the pages' paths.
KINDS: dict[type, str] = {
    Involvement: "persons",
    Vehicle: "vehicles",
    Firearm: "firearms",
    IdentityDocument: "documents",
}


def items(found: Iterable[Item]) -> dict[str, list[int]]:
    """Return the ids of ``found`` by kind, sorted; kinds with none are left out."""
    ids: dict[str, set[int]] = {}
    for item in found:
        ids.setdefault(KINDS[type(item)], set()).add(item.id)
    return {kind: sorted(ids[kind]) for kind in KINDS.values() if kind in ids}


def of_incident(incident: Incident) -> dict[str, list[int]]:
    """Return the ids of the persons and things recorded in ``incident``, by kind."""
    return items([*incident.persons, *incident.vehicles, *incident.firearms, *incident.documents])


def of_hits(
    person_hits: Sequence[PersonHit] = (), thing_hits: Sequence[Hit] = ()
) -> dict[str, list[int]]:
    """Return the ids of the incidents, persons and things that search hits show."""
    incidents = {h.incident.id for h in person_hits} | {h.incident.id for h in thing_hits}
    found = [*(h.person for h in person_hits), *(h.thing for h in thing_hits)]
    return {"incidents": sorted(incidents), **items(found)}

"""Every read of personal data is audited, and its entry says what was shown.

``ROUTES`` classifies every GET route of the application: personal (a person, an
alert, a hit, a user, the audit log itself...) or not, with the reason. A route added
without a classification fails ``test_every_get_route_is_classified``. Each personal
route is then called as a persona allowed to, with such data present, and must write an
audit entry (found by the request's id) that names everything the answer showed:

- in JSON, every ``id``, ``uid``, ``incident_id``, ``username`` and ``seq`` it holds;
- in a page, every incident, person, vehicle, firearm, document and alert it links to;
- the identifiers the case lists (what is shown without a link or an id: users, the
  entries of the log, the incident whose alerts are listed);
- the query, when the route searches.

Identifiers are compared as ``kind/id`` (``persons/12``): the entry's object, or an id in
its detail under a kind's name (``"persons": [12]``, ``"incident": 4``) or in a list of
the object's kind (``"ids": [...]``, ``"uids": [...]``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.routing import Mount, Route

from accounts.test_sign_in_web import web_sign_in
from alerts.test_alerts_api import issue, stolen_vehicle, wanted
from atalaya.accounts.models import Agency
from atalaya.audit.models import AuditEntry
from atalaya.federation.models import HitNotification, Peer
from atalaya.records.models import Firearm, IdentityDocument, Involvement, Vehicle
from records.test_incidents_api import record

World = dict[str, Any]


@dataclass(frozen=True)
class Personal:
    """A route whose answer carries personal data, and how to see some."""

    persona: str
    # Personal data the answer must contain, so that the case reads something.
    shows: str
    params: dict[str, str] = field(default_factory=dict)
    # Identifiers shown without a link or an id field, that the entry must name too.
    names: Callable[[World], set[str]] = lambda world: set()


# Why a route carries no personal data (its answer, that is, to any caller).
NOT_PERSONAL = str

ROUTES: dict[str, Personal | NOT_PERSONAL] = {
    # The node and its documents.
    "/healthz": "the process's health",
    "/api/v1/openapi.json": "the API's description",
    "/.well-known/atalaya-node": "the node's public description and keys",
    "/static": "style sheets and scripts",
    # The caller's own account: reading oneself is not audited.
    "/api/v1/me": "the caller's own profile",
    "/": "the caller's own profile and roles",
    "/api/v1/tokens": "the caller's own tokens",
    "/account/tokens": "the caller's own tokens",
    "/login": "a form",
    "/login/totp": "a form",
    "/login/enroll": "the caller's own new second factor",
    # Organisations, places and forms.
    "/api/v1/agencies": "agencies are organisations",
    "/api/v1/agencies/{code}": "agencies are organisations",
    "/admin/agencies": "agencies are organisations",
    "/api/v1/areas": "areas are places",
    "/api/v1/areas/{code}": "areas are places",
    "/incidents/new": "an empty form",
    "/alerts/new": "an empty form",
    # Counts and statistics.
    "/api/v1/incidents/summary": "counts of incidents, never a person",
    "/api/v1/indicators": "statistics",
    "/api/v1/indicators/export": "statistics (the export is audited as stats.export)",
    "/api/v1/indicators/structure": "the statistics' code lists",
    "/api/v1/indicators/reconciliation": "statistics compared between sources",
    "/api/v1/plans": "national plans' targets",
    "/api/v1/plans/{code}/progress": "statistics against a plan's targets",
    "/observatory": "statistics",
    "/api/v1/federation/peers": "queues of envelopes per peer: counts and times",
    "/admin/federation": "queues of envelopes per peer: counts and times",
    # Incidents and the persons and things recorded in them.
    "/api/v1/incidents": Personal("alice", "Juan Carlos"),
    "/incidents": Personal("alice", "JUA-2026-000123"),
    "/api/v1/incidents/{incident_id}": Personal(
        "alice", "Juan Carlos", names=lambda w: w["first_items"]
    ),
    "/incidents/{incident_id}": Personal("alice", "Juan Carlos"),
    "/incidents/{incident_id}/edit": Personal(
        "alice", "Juan Carlos", names=lambda w: w["first_items"]
    ),
    "/api/v1/incidents/{incident_id}/history": Personal(
        "alice", "Juan Carlos", names=lambda w: {f"incidents/{w['incident_id']}"}
    ),
    "/api/v1/incidents/{incident_id}/alerts": Personal(
        "alice", "Juan Carlos", names=lambda w: {f"incidents/{w['incident_id']}"}
    ),
    "/api/v1/persons": Personal(
        "alice", "Juan Carlos", {"surnames": "Pérez López", "date_of_birth": "1999-04-02"}
    ),
    "/api/v1/persons/{person_id}": Personal("alice", "Juan Carlos"),
    "/persons/{involvement_id}": Personal("alice", "Juan Carlos"),
    "/api/v1/vehicles": Personal("alice", "1M8GDM9AXKP042788", {"plate": "EFG-12-34"}),
    "/api/v1/vehicles/{vehicle_id}": Personal("alice", "1M8GDM9AXKP042788"),
    "/vehicles/{vehicle_id}": Personal("alice", "1M8GDM9AXKP042788"),
    "/api/v1/firearms": Personal("alice", "AB-1234", {"serial": "AB-1234"}),
    "/api/v1/firearms/{firearm_id}": Personal("alice", "AB-1234"),
    "/firearms/{firearm_id}": Personal("alice", "AB-1234"),
    "/api/v1/documents": Personal("alice", "G-123 456", {"number": "G123456"}),
    "/api/v1/documents/{document_id}": Personal("alice", "G-123 456"),
    "/documents/{document_id}": Personal("alice", "G-123 456"),
    "/search": Personal(
        "alice",
        "Juan Carlos",
        {"surnames": "Pérez López", "date_of_birth": "1999-04", "vin": "1M8GDM9AXKP042788"},
    ),
    # Alerts: wanted and missing persons, stolen things.
    "/api/v1/alerts": Personal("alice", "Juan Carlos"),
    "/alerts": Personal("alice", "Orden de aprehensi"),
    "/api/v1/alerts/{uid}": Personal("alice", "Juan Carlos"),
    "/alerts/{uid}": Personal("alice", "Juan Carlos"),
    # Hits: a peer's query reached one of the agency's records.
    "/api/v1/hits/notifications": Personal("alice", "hit"),
    # The node's users (staff), and the audit log, which names them and what they read.
    "/api/v1/users": Personal("diana", "alice"),
    "/api/v1/users/{username}": Personal("diana", "alice"),
    "/admin/users": Personal("diana", "alice", names=lambda w: {"users/alice", "users/bob"}),
    "/api/v1/audit": Personal("auditor", "alice"),
    "/audit": Personal("auditor", "alice", names=lambda w: {f"entries/{w['latest_seq']}"}),
}

PERSONAL = sorted(path for path, kind in ROUTES.items() if isinstance(kind, Personal))


def get_routes(app: FastAPI) -> set[str]:
    """Return the path of every route of ``app`` that answers GET, and of every mount."""
    return {
        route.path
        for route in app.routes
        if isinstance(route, Mount) or (isinstance(route, Route) and "GET" in route.methods)
    }


def test_every_get_route_is_classified(app: FastAPI) -> None:
    routes = get_routes(app)
    assert not routes - ROUTES.keys(), "classify these routes in ROUTES (personal or not)"
    assert not ROUTES.keys() - routes, "these routes are gone: take them out of ROUTES"


@pytest.fixture
def world(client: TestClient, auth, session: Session) -> World:  # type: ignore[no-untyped-def]
    """Two incidents of agency A with the same person, vehicle, firearm and document;
    a wanted-person alert and a stolen-vehicle alert matching them; a peer's hit on the
    first incident."""
    victim = {"role": "victim", "given_names": "Juan Carlos", "surnames": "Pérez López",
              "sex": "male", "date_of_birth": "1999-04-02", "nationality": "MX"}  # fmt: skip
    things = {
        "vehicles": [{"status": "stolen", "vin": "1M8GDM9AXKP042788", "plate": "EFG-12-34"}],
        "firearms": [{"status": "seized", "serial": "AB-1234"}],
        "documents": [{"status": "stolen", "type": "passport", "number": "G-123 456"}],
    }
    first = record(client, auth, persons=[victim], **things)
    record(client, auth, reference="JUA-2", persons=[victim], **things)
    alerts = [issue(client, auth, wanted()), issue(client, auth, stolen_vehicle())]
    _hit(session, first["id"])
    items = {
        kind: session.scalar(
            select(func.min(model.id)).where(model.incident_id == first["id"])  # type: ignore[attr-defined]
        )
        for kind, model in (
            ("persons", Involvement),
            ("vehicles", Vehicle),
            ("firearms", Firearm),
            ("documents", IdentityDocument),
        )
    }
    return {
        "incident_id": first["id"],
        "person_id": items["persons"],
        "involvement_id": items["persons"],
        "vehicle_id": items["vehicles"],
        "firearm_id": items["firearms"],
        "document_id": items["documents"],
        "uid": alerts[0]["uid"],
        "username": "alice",
        "first_items": {f"{kind}/{id}" for kind, id in items.items()},
        "latest_seq": session.scalar(select(func.max(AuditEntry.seq))),
    }


def _hit(session: Session, incident_id: int) -> None:
    agency = session.scalar(select(Agency).where(Agency.code == "MX-SSPM-JUA"))
    assert agency is not None
    peer = Peer(node_id="co-ponal", name="Policía Nacional", country="CO", url="https://co.test")
    session.add(peer)
    session.flush()
    session.add(
        HitNotification(
            agency_id=agency.id,
            incident_id=incident_id,
            peer_id=peer.id,
            event="hit",
            kind="vin",
            purpose="investigation",
            reference="ref-1",
            envelope_id=str(uuid.uuid4()),
        )
    )
    session.commit()


@pytest.mark.parametrize("path", PERSONAL)
def test_a_read_of_personal_data_is_audited_with_what_it_showed(
    path: str,
    client: TestClient,
    auth,  # type: ignore[no-untyped-def]
    session: Session,
    world: World,
) -> None:
    case = ROUTES[path]
    assert isinstance(case, Personal)
    url = path.format(**world)
    if path.startswith("/api/"):
        response = client.get(url, params=case.params, headers=auth(case.persona))
    else:
        assert web_sign_in(client, case.persona).status_code == 303
        response = client.get(url, params=case.params)
    assert response.status_code == 200, response.text
    assert case.shows in response.text, "the case must read some personal data"
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.request_id == response.headers["x-request-id"])
    ).all()
    assert entries, f"GET {path} wrote no audit entry"
    named = set().union(*(_named(e) for e in entries))
    shown = _shown(path, response) | case.names(world)
    assert shown, "the case must show some identifiers"
    assert not shown - named, f"GET {path} showed these without naming them in its entry"
    queried = {v for v in case.params.values() if v}
    said = set().union(*(_strings(json.loads(e.detail)) for e in entries))
    assert not queried - said, f"GET {path} did not record its query"


# What an identifier in a JSON answer names, by its key ("id": what the route serves).
KEYS = {"uid": "alerts", "incident_id": "incidents", "username": "users", "seq": "entries"}
# What the first part of an API path serves, where it is not its own name.
SERVED = {"audit": "entries", "hits": "notifications"}
# What an entry's ``object_type`` is, by the same names.
OBJECTS = {"incident": "incidents", "person": "persons", "vehicle": "vehicles",
           "firearm": "firearms", "document": "documents", "alert": "alerts", "user": "users",
           "audit": "entries", "hit_notification": "notifications"}  # fmt: skip
LINKED = re.compile(
    r'href="/((?:incidents|persons|vehicles|firearms|documents)/\d+|alerts/[0-9a-f-]{36})'
)


def _shown(path: str, response: Any) -> set[str]:
    """Return what an answer shows, as ``kind/id``: its ids in JSON, its links in a page."""
    if not response.headers["content-type"].startswith("application/json"):
        return set(LINKED.findall(response.text))
    segment = path.split("/")[3]
    return set(_identifiers(response.json(), SERVED.get(segment, segment)))


def _identifiers(value: Any, kind: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "id" or key in KEYS:
                yield f"{KEYS.get(key, kind)}/{item}"
            else:
                yield from _identifiers(item, "incidents" if key == "incident" else kind)
    elif isinstance(value, list):
        for item in value:
            yield from _identifiers(item, kind)


def _named(entry: AuditEntry) -> set[str]:
    """Return what an entry names, as ``kind/id``: its object; one item under a kind's
    name in the singular (``"incident": 4``); the items of a list in its detail, under a
    kind's name (``"persons": [...]``) or else of the object's kind (``"ids": [...]``)."""
    own = OBJECTS.get(entry.object_type or "", "")
    named = {f"{own}/{entry.object_id}"} if entry.object_id else set()
    for key, value in json.loads(entry.detail).items():
        if isinstance(value, list):
            kind = key if key in OBJECTS.values() else own
            named |= {f"{kind}/{item}" for item in value}
        elif f"{key}s" in OBJECTS.values():
            named.add(f"{key}s/{value}")
    return named


def _strings(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set().union(*(_strings(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_strings(v) for v in value))
    return {str(value)}

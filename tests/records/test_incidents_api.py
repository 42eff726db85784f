"""Recording, reading, updating and listing incidents through the API, as each persona."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.records.models import Incident
from test_app import assert_problem

URL = "/api/v1/incidents"


def homicide(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": "JUA-2026-000123",
        "occurred_from": "2026-11-20T22:15",
        "reported_at": "2026-11-20T23:40:00Z",
        "area": "MX-08-037",
        "place_type": "street",
        "narrative": "Disparos en la vía pública.",
        "offences": [{"iccs": "0101", "weapon": "firearm"}],
        "persons": [{"role": "victim", "given_names": "Juan Carlos", "surnames": "Pérez López",
                     "sex": "male", "age": 27, "nationality": "MX"}],
        "vehicles": [{"status": "stolen", "vin": "1M8GDM9AXKP042788", "plate": "EFG-12-34"}],
    }  # fmt: skip
    body.update(changes)
    return body


def record(client: TestClient, auth, who: str = "alice", **changes: Any) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.post(URL, json=homicide(**changes), headers=auth(who))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Incident)) or 0


def test_alice_records_an_incident_for_her_agency(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    assert (incident["agency"], incident["version"], incident["area"]) == (
        "MX-SSPM-JUA",
        1,
        "MX-08-037",
    )
    assert incident["offences"][0]["iccs"] == "0101"
    assert incident["persons"][0]["surnames"] == "Pérez López"


def test_a_national_code_is_recorded_with_its_iccs_code(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    offences = [
        {
            "national_scheme": "mx-sesnsp",
            "national_code": "Homicidio|Homicidio doloso|Con arma de fuego",
        }
    ]
    incident = record(client, auth, offences=offences)
    assert incident["offences"][0]["iccs"] == "0101"
    assert incident["offences"][0]["national_scheme"] == "mx-sesnsp"


def test_a_record_with_errors_is_refused_whole_and_nothing_is_stored(
    client: TestClient, auth, session: Session
) -> None:  # type: ignore[no-untyped-def]
    before = count(session)
    body = homicide(occurred_from="2030", persons=[], offences=[{"iccs": "0201"}], area="MX-NOPE")
    problem = assert_problem(client.post(URL, json=body, headers=auth("alice")), 422, "REC-102")
    found = {(e["field"], e["code"]) for e in problem["errors"]}
    assert {
        ("occurred_from", "REC-102"),
        ("offences.0.iccs", "REC-106"),
        ("area", "REC-118"),
    } <= found
    assert all(e["message"] for e in problem["errors"])
    assert count(session) == before


def test_rule_messages_come_in_the_users_language(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    headers = auth("alice") | {"Accept-Language": "es"}
    problem = client.post(URL, json=homicide(persons=[]), headers=headers).json()
    assert problem["errors"][0]["message"].startswith("Un incidente ICCS 0101 requiere")


def test_a_reference_is_unique_within_the_agency(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    assert_problem(client.post(URL, json=homicide(), headers=auth("alice")), 409, "REC-112")
    other_agency = homicide(area="MX-14-039")
    assert client.post(URL, json=other_agency, headers=auth("charlie")).status_code == 201


def test_an_officer_cannot_record_outside_the_jurisdiction(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    assert_problem(
        client.post(URL, json=homicide(area="MX-14-039"), headers=auth("alice")), 403, "AUTH-112"
    )


def test_an_analyst_reads_but_does_not_record(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    assert client.get(f"{URL}/{incident['id']}", headers=auth("bob")).status_code == 200
    assert_problem(
        client.post(URL, json=homicide(reference="B-1"), headers=auth("bob")), 403, "AUTH-111"
    )


def test_charlie_never_sees_agency_a_incidents_not_even_their_count(
    client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    headers = auth("charlie")
    assert_problem(client.get(f"{URL}/{incident['id']}", headers=headers), 404, "API-106")
    assert_problem(client.get(f"{URL}/{incident['id']}/history", headers=headers), 404, "API-106")
    listing = client.get(URL, headers=headers).json()
    assert listing == {"items": [], "total": 0, "next": None}
    update = client.put(f"{URL}/{incident['id']}", json=homicide(narrative="x"), headers=headers)
    assert_problem(update, 404, "API-106")


def test_the_state_and_the_federation_see_the_municipal_incident(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    assert client.get(f"{URL}/{incident['id']}", headers=auth("diana")).status_code == 200
    assert client.get(URL, headers=auth("diana")).json()["total"] == 1


def test_an_update_is_a_new_version_and_the_history_keeps_the_old(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    changed = homicide(status="under_investigation", narrative="Se identificó un vehículo.")
    updated = client.put(f"{URL}/{incident['id']}", json=changed, headers=auth("alice")).json()
    assert (updated["version"], updated["status"]) == (2, "under_investigation")
    history = client.get(f"{URL}/{incident['id']}/history", headers=auth("alice")).json()
    assert [(v["version"], v["changed_by"]) for v in history] == [(1, "alice"), (2, "alice")]
    assert history[0]["record"]["narrative"] == "Disparos en la vía pública."


def test_every_read_of_the_persons_is_audited(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth)
    client.get(f"{URL}/{incident['id']}", headers=auth("bob"))
    client.get(URL, headers=auth("bob"))
    entries = client.get("/api/v1/audit", params={"actor": "bob"}, headers=auth("auditor")).json()[
        "items"
    ]
    actions = {(e["action"], e["object_id"]) for e in entries}
    assert ("incident.read", str(incident["id"])) in actions
    assert any(a == "incident.list" for a, _ in actions)


def test_the_list_filters_by_area_period_iccs_and_status(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    record(client, auth, reference="JUA-2", occurred_from="2026-03",
           offences=[{"iccs": "020111"}], persons=[])  # fmt: skip
    headers = auth("diana")

    def refs(**params: str) -> list[str]:
        page = client.get(URL, params=params, headers=headers).json()
        return sorted(i["reference"] for i in page["items"])

    assert refs() == ["JUA-2", "JUA-2026-000123"]
    assert refs(iccs="01") == ["JUA-2026-000123"]
    assert refs(iccs="0201") == ["JUA-2"]
    assert refs(area="MX-CHH") == ["JUA-2", "JUA-2026-000123"]
    assert refs(area="MX-JAL") == []
    assert refs(occurred_since="2026-11-01T00:00:00Z") == ["JUA-2026-000123"]
    assert refs(occurred_until="2026-04-01T00:00:00Z") == ["JUA-2"]
    assert refs(status="closed") == []


def summary(
    client: TestClient, headers: dict[str, str], **params: str
) -> dict[str, dict[str, int]]:
    body = client.get(f"{URL}/summary", params=params, headers=headers).json()
    return {
        item["key"]: {k: item[k] for k in ("incidents", "offences", "victims")}
        for item in body["items"]
    }


def test_the_summary_counts_incidents_offences_and_victims(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    two_victims = [{"role": "victim", "sex": "male", "age_group": "25-34"},
                   {"role": "victim", "sex": "female", "age_group": "18-24"},
                   {"role": "suspect", "sex": "male"}]  # fmt: skip
    record(client, auth, persons=two_victims,
           offences=[{"iccs": "0101", "weapon": "firearm"}, {"iccs": "020111", "weapon": "firearm"}])  # fmt: skip
    record(client, auth, reference="JUA-2", occurred_from="2026-03-05",
           offences=[{"iccs": "0101", "weapon": "sharp_object"}],
           persons=[{"role": "victim", "sex": "female", "age_group": "18-24"}])  # fmt: skip
    headers = auth("diana")
    assert summary(client, headers, by="area") == {
        "MX-08-037": {"incidents": 2, "offences": 3, "victims": 3}
    }
    assert summary(client, headers, by="month") == {
        "2026-11": {"incidents": 1, "offences": 2, "victims": 2},
        "2026-03": {"incidents": 1, "offences": 1, "victims": 1},
    }
    assert summary(client, headers, by="iccs")["0101"] == {
        "incidents": 2,
        "offences": 2,
        "victims": 3,
    }
    assert summary(client, headers, by="sex") == {
        "female": {"incidents": 2, "offences": 3, "victims": 2},
        "male": {"incidents": 1, "offences": 2, "victims": 1},
    }
    assert summary(client, headers, by="weapon")["firearm"] == {
        "incidents": 1,
        "offences": 2,
        "victims": 2,
    }
    assert summary(client, headers, by="area", iccs="0201") == {
        "MX-08-037": {"incidents": 1, "offences": 2, "victims": 2}
    }


def test_the_summary_counts_only_what_the_caller_may_see(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth)
    assert summary(client, auth("charlie"), by="area") == {}
    assert_problem(
        client.get(f"{URL}/summary", params={"by": "planet"}, headers=auth("alice")), 422, "API-104"
    )


def test_narratives_are_searched_by_word_within_jurisdiction(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    record(client, auth, narrative="Disparos frente a la farmacia; el vehículo huyó hacia el sur.")
    record(client, auth, reference="JUA-2", narrative="Riña en un bar del centro.")
    headers = auth("bob")

    def found(q: str) -> list[str]:
        return [
            i["reference"]
            for i in client.get(URL, params={"q": q}, headers=headers).json()["items"]
        ]

    assert found("farmacia") == ["JUA-2026-000123"]
    assert found("FARMACIA vehiculo") == (
        ["JUA-2026-000123"] if client.app.state.runtime.db.engine.dialect.name == "sqlite" else []
    )
    assert found("bar centro") == ["JUA-2"]
    assert found("farmacia bar") == []
    assert found('" OR 1=1 --') == []  # not FTS syntax, not SQL: just words
    assert [
        i["reference"]
        for i in client.get(URL, params={"q": "farmacia"}, headers=auth("charlie")).json()["items"]
    ] == []


def test_an_edited_narrative_is_found_by_its_new_words(client: TestClient, auth) -> None:  # type: ignore[no-untyped-def]
    incident = record(client, auth, narrative="Robo de celular.")
    client.put(
        f"{URL}/{incident['id']}",
        json=homicide(narrative="Asalto con navaja."),
        headers=auth("alice"),
    )

    def refs(q: str) -> list[str]:
        page = client.get(URL, params={"q": q}, headers=auth("alice")).json()
        return [i["reference"] for i in page["items"]]

    assert refs("navaja") == ["JUA-2026-000123"] and refs("celular") == []

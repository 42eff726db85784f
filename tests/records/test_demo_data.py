"""Demo incidents: the same in every run, valid, spread over two countries, with repeat
offenders found under the spellings they were recorded with; loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.accounts.authz import Principal
from atalaya.accounts.models import AgencyLevel, Role
from atalaya.accounts.service import get_agency
from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.demo import AGENCIES, load_demo_incidents, pending_demo_incidents
from atalaya.matching.identifiers import normalise_vin, vin_check_digit_applies, vin_is_valid
from atalaya.records.demo_data import Owner, demo_incidents, offender_in
from atalaya.records.models import Incident, IncidentVersion
from atalaya.records.persons import PersonQuery, find_persons
from atalaya.records.rules import validate
from atalaya.records.schema import IncidentIn
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

OWNERS = [Owner(code, level, area) for code, _, level, area, _ in AGENCIES]
runner = CliRunner()

DIGEST = """
import hashlib, json
from atalaya.demo import AGENCIES
from atalaya.records.demo_data import Owner, demo_incidents
owners = [Owner(code, level, area) for code, _, level, area, _ in AGENCIES]
records = [(o, r.model_dump(mode="json")) for o, r in demo_incidents(range(1, 301), owners)]
print(hashlib.sha256(json.dumps(records, sort_keys=True).encode()).hexdigest())
"""


def generated(numbers: range | list[int]) -> list[tuple[str, IncidentIn]]:
    return list(demo_incidents(numbers, OWNERS))


def digest(records: list[tuple[str, IncidentIn]]) -> str:
    dumped = [(owner, record.model_dump(mode="json")) for owner, record in records]
    return hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()


def test_the_same_incidents_come_out_in_every_run_whatever_the_hash_seed() -> None:
    here = digest(generated(range(1, 301)))
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run(
            [sys.executable, "-c", DIGEST], env=env, capture_output=True, text=True, check=True
        )
        assert run.stdout.strip() == here


def test_an_incident_is_the_same_whatever_the_count_asked_for() -> None:
    many = generated(range(1, 301))
    assert generated([250]) == [many[249]]
    assert generated(range(1, 41)) == many[:40]
    assert [record.reference for _, record in many[:2]] == ["DEMO-000001", "DEMO-000002"]


def test_every_incident_passes_the_rules() -> None:
    now = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)  # the day after the data set's last
    broken = Counter(
        (error.code, error.field)
        for _, record in generated(range(1, 3001))
        for error in validate(record, now)
    )
    assert broken == Counter()


def test_incidents_spread_over_two_countries_their_agencies_and_offences() -> None:
    records = generated(range(1, 3001))
    owners = Counter(owner for owner, _ in records)
    assert {record.area[:2] for _, record in records} == {"MX", "CO"}
    assert owners["MX-SSPM-JUA"] > 100 and owners["MX-CPM-GDL"] > 100
    assert set(owners) == {code for code, _, level, *_ in AGENCIES if level != "central_authority"}
    assert len({record.area for _, record in records}) > 100  # municipalities and states
    sections = {offence.iccs[:2] for _, r in records for offence in r.offences if offence.iccs}
    assert {"01", "02", "03", "04", "05", "06", "07", "09"} <= sections
    homicides = [r for _, r in records if r.offences[0].iccs == "0101"]
    assert homicides and all(any(p.role == "victim" for p in r.persons) for r in homicides)
    roles = Counter(p.role for _, r in records for p in r.persons)
    assert all(roles[role] for role in ("victim", "suspect", "arrested", "witness", "missing"))
    assert 0 < sum(r.restricted for _, r in records) < len(records)
    documents = {(d.type, d.issuing_country) for _, r in records for d in r.documents}
    assert {("national_id", "MX"), ("national_id", "CO")} <= documents


def test_vehicles_carry_vins_that_pass_their_check_digit_and_turn_up_again() -> None:
    vehicles = [v for _, r in generated(range(1, 3001)) for v in r.vehicles]
    vins = [normalise_vin(v.vin) for v in vehicles if v.vin]
    assert len(vins) > 100
    assert all(vin and vin_is_valid(vin) for vin in vins)
    assert any(vin and vin_check_digit_applies(vin) for vin in vins)
    assert {"stolen", "seized", "recovered"} <= {v.status for v in vehicles}
    plates = Counter(v.plate for v in vehicles)
    assert any(count > 1 for count in plates.values())  # stolen, then recovered or seized


def incidents(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Incident)) or 0


def test_500_incidents_import_without_a_rejection_and_a_second_load_changes_nothing(
    db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    before = incidents(session)
    first = load_demo_incidents(db.sessions, TEST_CONTEXT, range(1, 501), batch_size=100)
    assert first.rejected == [] and first.stored == 500
    assert incidents(session) == before + 500
    assert pending_demo_incidents(session, 500) == []
    assert pending_demo_incidents(session, 510) == list(range(501, 511))
    again = load_demo_incidents(db.sessions, TEST_CONTEXT, range(1, 501))
    assert (again.stored, again.updated, again.unchanged) == (0, 0, 500)
    assert incidents(session) == before + 500


def test_a_repeat_offender_is_found_across_agencies_under_a_variant_spelling(
    db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    offenders = {n: o for n in range(1, 3001) if (o := offender_in(n))}
    busiest = Counter(offenders.values()).most_common(1)[0][0]
    numbers = [n for n, offender in offenders.items() if offender is busiest]
    assert load_demo_incidents(db.sessions, TEST_CONTEXT, numbers).stored == len(numbers) >= 5
    federal = get_agency(session, "MX-SSPC" if busiest.home.country == "MX" else "CO-PNC")
    analyst = Principal(0, "test", federal.id, federal.code, AgencyLevel.FEDERAL,
                        federal.area.path, frozenset({Role.ANALYST}))  # fmt: skip
    given, (first, second) = busiest.person.given, busiest.person.surnames
    hits = find_persons(
        session, analyst, PersonQuery(given_names=given.upper(), surnames=f"{second} {first}")
    )
    references = {f"DEMO-{n:06d}" for n in numbers}
    assert references <= {hit.incident.reference for hit in hits}
    spellings = {
        (h.person.given_names, h.person.surnames)
        for h in hits
        if h.incident.reference in references
    }
    assert len(spellings) > 1  # written down more than one way, found all the same
    owners = session.scalars(select(Incident.agency_id).where(Incident.reference.in_(references)))
    assert len(set(owners)) > 1


def counts(settings: Settings) -> tuple[int, ...]:
    engine = make_engine(settings)
    with Session(engine) as s:
        result = tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Incident, IncidentVersion, AuditEntry)
        )
    engine.dispose()
    return result


def test_atalaya_demo_adds_incidents_once_and_a_second_run_changes_nothing(
    cli_env: Settings,
) -> None:
    first = runner.invoke(cli, ["demo", "--incidents", "200", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "demo incidents: 200 added" in first.output
    # Alerts about a stolen vehicle, a firearm and a suspect of the demo incidents.
    assert "demo alerts: 3 added" in first.output
    published = re.search(r"demo indicators: (\d+) series published", first.output)
    assert published is not None and int(published.group(1)) > 0
    after_first = counts(cli_env)
    assert after_first[:2] == (200, 200)
    second = runner.invoke(cli, ["demo", "--incidents", "200", "--quiet"])
    assert second.exit_code == 0, second.output
    assert "0 rows created" in second.output and "demo incidents: 0 added" in second.output
    assert "demo alerts: 0 added" in second.output
    assert "demo indicators: 0 series published" in second.output
    assert counts(cli_env) == after_first

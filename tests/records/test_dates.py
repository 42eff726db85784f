"""Dates where they enter the records (the API's body and query strings, the browser's
form and search, CSV and jsonl imports): ASCII digits only, nothing before 1900, nobody
born in the future; each refusal with its code, and nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from accounts.test_sign_in_web import web_sign_in
from atalaya.cli import app as cli
from atalaya.records.csv_format import read_csv
from atalaya.records.formats import read_jsonl
from atalaya.records.imports import import_records
from atalaya.settings import Settings
from conftest import TEST_CONTEXT
from records.test_imports import incidents, jsonl, juarez_officer
from records.test_incident_form import GOOD, post
from records.test_incidents_api import URL, count, homicide
from test_app import assert_problem

ARABIC_2024 = "٢٠٢٤"  # Arabic-Indic digits: int() reads them as 2024


def victim(**changes: Any) -> list[dict[str, Any]]:
    return [{"role": "victim", "given_names": "Ana", "surnames": "Ruiz", "sex": "female"} | changes]


# What the body says, and the errors it gets.
BAD_BODIES = {
    "arabic-indic digits": (
        {"occurred_from": f"{ARABIC_2024}-11-20", "persons": victim(date_of_birth="١٩٩٠-05")},
        {("occurred_from", "REC-104"), ("persons.0.date_of_birth", "REC-104")},
    ),
    "full-width digits": ({"occurred_from": "２０２６-11-20"}, {("occurred_from", "REC-104")}),
    "before 1900": (
        {"occurred_from": "1234-05-06", "occurred_to": "1899-12",
         "reported_at": "1899-12-31T10:00:00Z", "persons": victim(date_of_birth="1850")},
        {("occurred_from", "REC-120"), ("occurred_to", "REC-120"), ("reported_at", "REC-120"),
         ("persons.0.date_of_birth", "REC-120")},
    ),
    "born in the future": (
        {"persons": victim(date_of_birth="2999-01-01")},
        {("persons.0.date_of_birth", "REC-102")},
    ),
    "a count of seconds": ({"reported_at": 1732000000}, {("reported_at", "API-104")}),
    "digits alone": ({"reported_at": "20261120"}, {("reported_at", "API-104")}),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_BODIES, ids=list(BAD_BODIES))
def test_the_api_refuses_a_record_with_a_date_it_cannot_hold(
    case: str, client: TestClient, auth, session: Session
) -> None:  # type: ignore[no-untyped-def]
    change, errors = BAD_BODIES[case]
    response = client.post(URL, json=homicide(**change), headers=auth("alice"))
    problem = assert_problem(response, 422, min(errors)[1])
    assert {(e["field"], e["code"]) for e in problem["errors"]} == errors
    assert count(session) == 0


BAD_FILTERS = {
    "occurred_since=1234-01-01T00:00:00Z": ("occurred_since", "REC-120"),
    "occurred_until=1899-12-31": ("occurred_until", "REC-120"),
    "occurred_since=0": ("occurred_since", "API-104"),
    "occurred_until=20240101": ("occurred_until", "API-104"),
}


@pytest.mark.parametrize("query", BAD_FILTERS)
@pytest.mark.parametrize("path", ["", "/summary?by=area&"])
def test_the_list_and_the_summary_refuse_a_bound_they_cannot_use(
    query: str, path: str, client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    url = f"{URL}{path or '?'}{query}"
    field, code = BAD_FILTERS[query]
    problem = assert_problem(client.get(url, headers=auth("diana")), 422, code)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]


@pytest.mark.parametrize(
    ("date_of_birth", "code"),
    [(ARABIC_2024, "REC-104"), ("1990-٠٥", "REC-104"), ("1850", "REC-120"), ("2999", "REC-102")],
)
def test_the_person_search_refuses_a_date_of_birth_it_cannot_use(
    date_of_birth: str, code: str, client: TestClient, auth
) -> None:  # type: ignore[no-untyped-def]
    params = {"surnames": "Ruiz", "date_of_birth": date_of_birth}
    problem = assert_problem(client.get("/api/v1/persons", params=params, headers=auth("bob")),
                             422, code)  # fmt: skip
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("date_of_birth", code)]


def test_the_browser_form_refuses_arabic_indic_digits_and_the_year_1234(
    client: TestClient, session: Session
) -> None:
    web_sign_in(client, "alice")
    bad = GOOD | {"occurred_from": f"{ARABIC_2024}-11-20", "persons.0.date_of_birth": "1234"}
    response = post(client, bad)
    assert response.status_code == 422
    assert 'id="occurred_from-error"' in response.text
    assert "Write the date as YYYY" in response.text
    assert "This date is before 1900." in response.text
    assert count(session) == 0


def test_the_browser_list_and_search_refuse_dates_before_1900(client: TestClient) -> None:
    web_sign_in(client, "alice")
    for url in ("/incidents?since=1234-01-01", "/search?surnames=Ruiz&date_of_birth=1850"):
        page = client.get(url)
        assert page.status_code == 422 and "REC-120" in page.text, url


def test_a_csv_import_rejects_rows_with_dates_it_cannot_hold(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "dates.csv"
    path.write_text(
        "reference,occurred_from,reported_at,area,offence1_iccs,person1_role,person1_date_of_birth\n"
        f"D-1,{ARABIC_2024}-01-05,,MX-08-037,0101,victim,\n"
        "D-2,1234-01-05,,MX-08-037,0101,victim,\n"
        "D-3,2025-01-05,,MX-08-037,0101,victim,2999-01-01\n"
        "D-4,2025-01-05,20250105,MX-08-037,0101,victim,\n"
        "D-5,2025-01-05,,MX-08-037,0101,victim,1990-05\n",
        encoding="utf-8",
    )
    report = import_records(db.sessions, juarez_officer(session), TEST_CONTEXT, read_csv(path))
    assert {(r.where, e.code, e.field) for r in report.rejected for e in r.errors} == {
        ("row 2", "REC-104", "occurred_from"),
        ("row 3", "REC-120", "occurred_from"),
        ("row 4", "REC-102", "persons.0.date_of_birth"),
        ("row 5", "API-104", "reported_at"),
    }
    assert (report.read, report.stored) == (5, 1)


def test_a_jsonl_import_rejects_records_with_dates_it_cannot_hold(
    tmp_path: Path, db, session: Session
) -> None:  # type: ignore[no-untyped-def]
    path = jsonl(tmp_path / "dates.jsonl", [
        homicide(reference="J-1", persons=victim(date_of_birth=f"{ARABIC_2024}-02")),
        homicide(reference="J-2", reported_at="1066-10-14T09:00:00Z"),
        homicide(reference="J-3", reported_at=0),
    ])  # fmt: skip
    report = import_records(db.sessions, juarez_officer(session), TEST_CONTEXT, read_jsonl(path))
    assert {(r.where, e.code, e.field) for r in report.rejected for e in r.errors} >= {
        ("line 1", "REC-104", "persons.0.date_of_birth"),
        ("line 2", "REC-120", "reported_at"),
        ("line 3", "API-104", "reported_at"),
    }
    assert (report.read, report.stored, incidents(session)) == (3, 0, 0)


# A bound of ``atalaya records export``, and the code it is refused with.
BAD_BOUNDS = {
    ("--since", f"{ARABIC_2024}-01-01"): "API-104",
    ("--until", "２０２４-01-01"): "API-104",
    ("--since", "20240101"): "API-104",  # not seconds since 1970
    ("--until", "1899-12-31"): "REC-120",
}


@pytest.mark.parametrize("bound", BAD_BOUNDS, ids=[" ".join(b) for b in BAD_BOUNDS])
def test_the_export_command_refuses_a_bound_the_list_refuses(
    bound: tuple[str, str], cli_env: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(cli, ["records", "export", *bound, "--output", str(out)])
    assert result.exit_code != 0 and BAD_BOUNDS[bound] in result.output, result.output
    assert not out.exists()

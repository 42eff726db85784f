"""Areas: the 35 OAS member states, their subdivisions, national codes, loading files."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.errors import DomainError
from atalaya.geo.models import Area, AreaLevel
from atalaya.geo.service import find_by_national_code, load_areas, read_area_file

OAS = set(
    [
        "AG",
        "AR",
        "BS",
        "BB",
        "BZ",
        "BO",
        "BR",
        "CA",
        "CL",
        "CO",
        "CR",
        "CU",
        "DM",
        "DO",
        "EC",
        "SV",
        "GD",
        "GT",
        "GY",
        "HT",
        "HN",
        "JM",
        "MX",
        "NI",
        "PA",
        "PY",
        "PE",
        "KN",
        "LC",
        "VC",
        "SR",
        "TT",
        "US",
        "UY",
        "VE",
    ]
)


def test_the_35_oas_member_states_are_seeded(session: Session) -> None:
    countries = set(session.scalars(select(Area.code).where(Area.level == AreaLevel.COUNTRY)))
    assert countries == OAS


@pytest.mark.parametrize("country,count", [("MX", 32), ("AR", 24), ("CO", 33), ("BR", 27)])
def test_first_level_subdivisions_are_seeded(session: Session, country: str, count: int) -> None:
    n = session.scalar(select(func.count()).where(Area.parent_code == country))
    assert n == count


def test_names_come_in_several_languages(session: Session) -> None:
    brazil = session.get(Area, "BR")
    assert brazil is not None
    assert brazil.name_in("pt") == "Brasil"
    assert brazil.name_in("fr") == "Brésil"
    assert brazil.name_in("es") == "Brasil"


@pytest.mark.parametrize(
    "scheme,value,code",
    [
        ("INEGI", "08", "MX-CHH"),
        ("INEGI", "09", "MX-CMX"),
        ("DANE", "05", "CO-ANT"),
        ("DANE", "11", "CO-DC"),
        ("INDEC", "02", "AR-C"),
        ("INDEC", "94", "AR-V"),
    ],
)
def test_national_codes_lead_to_their_area(
    session: Session, scheme: str, value: str, code: str
) -> None:
    area = find_by_national_code(session, scheme, value)
    assert area is not None and area.code == code


def test_municipalities_load_from_a_file_under_their_subdivision(session: Session) -> None:
    juarez = session.get(Area, "MX-08-037")
    assert juarez is not None
    assert juarez.path == "/MX/MX-CHH/MX-08-037/"
    assert find_by_national_code(session, "INEGI", "08037") == juarez


AREA_FILE = """# Source: test data
code,level,parent,name,name_en,name_es,name_pt,name_fr,national_codes
MX-08-019,municipality,MX-CHH,Chihuahua,,,,,INEGI:08019
MX-08-017,municipality,MX-CHH,Cuauhtémoc,,,,,INEGI:08017
"""


def test_loading_the_same_file_twice_changes_nothing(session: Session) -> None:
    rows = read_area_file(AREA_FILE)
    assert load_areas(session, rows) == 4
    assert load_areas(session, rows) == 0


@pytest.mark.parametrize(
    "line,problem",
    [
        ("MX-08-999,municipality,MX-NOPE,X,,,,,", "unknown parent"),
        ("MX-08-999,village,MX-CHH,X,,,,,", "unknown level"),
        ("MX-08-999,municipality,MX-CHH,,,,,,", "required"),
        ("MX-08-999,municipality,MX-CHH,X,,,,,INEGI", "SCHEME:VALUE"),
        ("ZZ,country,MX,X,,,,,", "no parent"),
    ],
)
def test_a_bad_line_is_named_and_nothing_is_loaded(
    session: Session, line: str, problem: str
) -> None:
    text = AREA_FILE + line + "\n"
    with pytest.raises(DomainError) as error:
        load_areas(session, read_area_file(text))
    assert error.value.code == "GEO-101"
    assert error.value.params["line"] == 5
    assert problem in str(error.value.params["problem"])


@given(st.text(max_size=300))
def test_any_text_either_reads_or_fails_with_geo_101(text: str) -> None:
    try:
        read_area_file(text)
    except DomainError as error:
        assert error.code == "GEO-101"


def test_areas_are_public_reference_data(client: TestClient) -> None:
    countries = client.get("/api/v1/areas").json()
    assert countries["total"] == 35
    mexico = client.get(
        "/api/v1/areas", params={"parent": "MX"}, headers={"accept-language": "es"}
    ).json()
    assert mexico["total"] == 32
    chihuahua = client.get("/api/v1/areas/MX-CHH").json()
    assert chihuahua["national_codes"] == {"INEGI": "08"}
    assert client.get("/api/v1/areas/XX-NOPE").status_code == 404


def test_colombias_municipalities_are_reference_areas(session: Session) -> None:
    leticia = find_by_national_code(session, "DANE", "91001")
    assert leticia is not None and leticia.code == "CO-91-001"
    assert leticia.path == "/CO/CO-AMA/CO-91-001/"
    bogota = session.get(Area, "CO-11-001")
    assert bogota is not None and bogota.parent_code == "CO-DC"
    assert (
        session.scalar(
            select(func.count()).where(
                Area.country_code == "CO", Area.level == AreaLevel.MUNICIPALITY
            )
        )
        or 0
    ) > 1000

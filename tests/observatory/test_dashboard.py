"""The public dashboard, ``GET /observatory``: published figures for anyone, the same
numbers in the charts, the tables and the API links; unpublished series only for those
allowed; bad choices answered with a message and its code."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.test_sign_in_web import web_sign_in
from atalaya.db import Database
from atalaya.geo.models import Area
from atalaya.observatory import colombia
from atalaya.observatory.tile_grid import layout_of, layouts
from observatory import test_colombia as police_sample
from observatory.samples import load_samples, run_import, sesnsp_file
from observatory.test_api import publish_all
from web.test_accessibility import audit_page

MEXICO_2021 = {"indicator": "offences", "iccs": "0101", "area": "MX", "period": "2021"}


class Tables(HTMLParser):
    """Collects, per table id, each row's key (``data-area`` or ``data-period``) with the
    ``<data value>`` of its cells, and the links of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, dict[str, list[float]]] = {}
        self.table: str | None = None
        self.row: str | None = None
        self.links: list[str] = []
        self.svgs: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id") or ""
            self.tables[self.table] = {}
        elif tag == "tr" and self.table is not None:
            self.row = a.get("data-area") or a.get("data-period")
            if self.row:
                self.tables[self.table][self.row] = []
        elif tag == "data" and self.table is not None and self.row:
            self.tables[self.table][self.row].append(float(a["value"] or "nan"))
        elif tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "svg":
            self.svgs.append(a)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.table = None


def page(client: TestClient, **params: str) -> tuple[str, Tables]:
    response = client.get("/observatory", params=params)
    assert response.status_code == 200, response.text
    parsed = Tables()
    parsed.feed(response.text)
    return response.text, parsed


@pytest.fixture
def samples(db: Database, tmp_path: Path) -> None:
    load_samples(db, tmp_path)


@pytest.mark.usefixtures("samples")
def test_anyone_sees_the_published_figures_by_state_and_year_by_year(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    html, parsed = page(client, **MEXICO_2021)
    # Chihuahua: 156 offences on 200,000 people; Jalisco 2,100 on 400,000; the rest none.
    states = parsed.tables["areas-1-table"]
    assert states["MX-CHH"] == [156, 78.0, 200_000]
    assert states["MX-JAL"] == [2100, 525.0, 400_000]
    assert len(states) == 32 and states["MX-SON"] == []
    assert "No figure published" in html and "Rates per 100,000 inhabitants" in html
    years = parsed.tables["years-1-table"]
    assert years == {"2021": [2256, 225.6, 1_000_000], "2022": []}
    # 2022 lacks months: not available in words, never a zero.
    row_2022 = re.search(r'<tr data-period="2022">(.*?)</tr>', html, re.S)
    assert row_2022 and "Not available" in row_2022.group(1)
    labelled = [s for s in parsed.svgs if s.get("role") == "img"]
    assert len(labelled) == 3 and all(s.get("aria-labelledby") for s in labelled)
    assert "CONAPO" in html and "SESNSP" in html


@pytest.mark.usefixtures("samples")
def test_each_charts_api_link_answers_the_same_numbers_as_its_table(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    _, parsed = page(client, **MEXICO_2021)
    (series,) = [link for link in parsed.links if link.startswith("/api/v1/indicators?")
                 and "frequency=A" in link]  # fmt: skip
    answer = client.get(series).json()["items"]
    table = parsed.tables["years-1-table"]
    assert {v["period"]: v["value"] for v in answer} == {"2021": 2256, "2022": None}
    assert table["2021"][:2] == [answer[0]["value"], answer[0]["rate_per_100k"]]
    exports = [link for link in parsed.links if link.startswith("/api/v1/indicators/export?")]
    assert "/api/v1/indicators/export?format=csv&" + series.split("?", 1)[1] in exports
    (jalisco,) = [link for link in parsed.links if link.startswith("/api/v1/indicators?")
                  and "area=MX-JAL" in link]  # fmt: skip
    (value,) = client.get(jalisco).json()["items"]
    assert [value["value"], value["rate_per_100k"]] == parsed.tables["areas-1-table"]["MX-JAL"][:2]


@pytest.mark.usefixtures("samples")
def test_the_map_shades_each_state_and_leaves_states_without_figures_blank(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    html, _ = page(client, **MEXICO_2021)
    map_svg = html[html.index('class="tile-map"') : html.index("</svg>", html.index("tile-map"))]
    assert map_svg.count("<rect") == 32
    jalisco = re.search(r"<title>Jalisco: 525</title>\s*<rect[^>]*fill=\"(#\w+)\"", map_svg)
    chihuahua = re.search(r"<title>Chihuahua: 78</title>\s*<rect[^>]*fill=\"(#\w+)\"", map_svg)
    assert jalisco and chihuahua and jalisco.group(1) != chihuahua.group(1)
    assert map_svg.count('stroke-dasharray="4 3"') == 30
    assert "placed roughly where it lies" in html


def test_counts_are_shown_when_no_population_is_known(
    client: TestClient, db: Database, tmp_path: Path
) -> None:
    run_import(db, sesnsp_file(tmp_path), "sesnsp-idefc")
    publish_all(db)
    html, parsed = page(client, **MEXICO_2021)
    assert parsed.tables["areas-1-table"]["MX-JAL"] == [2100]
    assert "Counts: a population is not known for every figure" in html


@pytest.mark.usefixtures("samples")
def test_unpublished_series_are_invisible_to_anonymous_readers(client: TestClient) -> None:
    html, parsed = page(client, **MEXICO_2021)
    assert "areas-1-table" not in parsed.tables and "years-1-table" not in parsed.tables
    assert "No figures are published for this choice." in html
    # Nor does the form name a country with unpublished series only.
    _, empty = page(client)
    assert 'value="MX"' not in client.get("/observatory").text
    assert "No figures are published yet." in client.get("/observatory").text
    assert empty.tables == {}


@pytest.mark.usefixtures("samples")
@pytest.mark.parametrize("user", ["valentina", "charlie"])
def test_users_of_another_jurisdiction_or_role_see_no_unpublished_series(
    client: TestClient, user: str
) -> None:
    web_sign_in(client, user)
    html, parsed = page(client, **MEXICO_2021)
    assert parsed.tables == {}
    assert 'href="/observatory"' in html and 'class="logout"' in html


@pytest.mark.usefixtures("samples")
def test_a_supervisor_sees_the_unpublished_series_of_their_state(client: TestClient) -> None:
    web_sign_in(client, "diana")
    _, parsed = page(client, **MEXICO_2021)
    states = parsed.tables["areas-1-table"]
    assert states["MX-CHH"] == [156, 78.0, 200_000]
    assert states["MX-JAL"] == []


@pytest.mark.usefixtures("samples")
def test_a_signed_in_reader_with_an_expired_session_reads_it_as_anyone(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    client.cookies.set("atalaya_session", "not-a-session")
    _, parsed = page(client, **MEXICO_2021)
    assert parsed.tables["areas-1-table"]["MX-JAL"] == [2100, 525.0, 400_000]


@pytest.mark.parametrize(
    "params,field,code",
    [
        ({"area": "XX-NOPE"}, "area", "ACC-102"),
        ({"area": "MX", "indicator": "burglaries"}, "indicator", "OBS-116"),
        ({"area": "MX", "period": "20x1"}, "period", "OBS-114"),
        ({"area": "MX", "iccs": "99"}, "iccs", "OBS-115"),
        ({"area": "MX", "source_type": "rumour"}, "source_type", "OBS-116"),
    ],
)
def test_a_bad_choice_is_named_beside_its_field_with_its_code(
    client: TestClient, params: dict[str, str], field: str, code: str
) -> None:
    response = client.get("/observatory", params=params)
    assert response.status_code == 422
    error = re.search(rf'<p class="field-error" id="{field}-error" role="alert">(.*?)</p>',
                      response.text, re.S)  # fmt: skip
    assert error and f"({code})" in error.group(1)
    assert 'aria-invalid="true"' in response.text and "<svg" not in response.text


def test_several_bad_choices_are_named_at_once(client: TestClient) -> None:
    response = client.get("/observatory", params={"area": "XX", "period": "x", "iccs": "99"})
    assert response.status_code == 422
    for code in ("ACC-102", "OBS-114", "OBS-115"):
        assert f"({code})" in response.text


def test_the_tile_grids_place_every_subdivision_of_mexico_colombia_and_argentina(
    session: Session,
) -> None:
    for country, expected in (("MX", 32), ("CO", 33), ("AR", 24)):
        areas = session.scalars(select(Area).where(Area.parent_code == country)).all()
        assert len(areas) == expected
        placed = layouts()[country]
        assert set(placed) == {a.code for a in areas}, country
        assert len(set(placed.values())) == expected, f"{country}: two areas share a square"
        assert layout_of(country, [(a.code, a.name) for a in areas]).geographic


def test_a_country_without_a_layout_is_laid_out_alphabetically() -> None:
    layout = layout_of("CL", [("CL-RM", "Santiago"), ("CL-AN", "Antofagasta"),
                              ("CL-AR", "Araucanía"), ("CL-BI", "Biobío"), ("CL-AI", "Aysén")])  # fmt: skip
    assert not layout.geographic
    assert [(t.code, t.row, t.col) for t in layout.tiles] == [
        ("CL-AN", 0, 0), ("CL-AR", 0, 1), ("CL-AI", 0, 2), ("CL-BI", 1, 0), ("CL-RM", 1, 1)
    ]  # fmt: skip


@pytest.fixture
def colombia_2021(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import the Colombian police sample (victims in Medellín and Bogotá, 2021) and
    publish it."""
    monkeypatch.setattr(colombia, "_police_rows", lambda path: (police_sample.ROWS, 0))
    path = tmp_path / "homicidios.xls"
    path.write_bytes(b"")
    run_import(db, path, police_sample.POLICE, police_sample.VINTAGE)
    publish_all(db)


@pytest.mark.usefixtures("colombia_2021")
def test_colombia_shows_counts_by_department_on_its_own_layout(client: TestClient) -> None:
    html, parsed = page(client, indicator="victims", iccs="0101", area="CO", period="2021")
    departments = parsed.tables["areas-1-table"]
    assert departments["CO-ANT"] == [4] and departments["CO-DC"] == [1]
    assert len(departments) == 33 and "Counts:" in html
    assert "placed roughly where it lies" in html


@pytest.mark.usefixtures("colombia_2021")
def test_the_page_says_when_it_has_no_layout_of_its_own(client: TestClient) -> None:
    html, parsed = page(client, indicator="victims", iccs="0101", area="CO-ANT", period="2021")
    # Antioquia's municipalities have no layout: alphabetical, and the page says so.
    assert "drawn in alphabetical order" in html
    assert parsed.tables["areas-1-table"]["CO-05-001"] == [4]


def test_the_dashboard_is_in_the_navigation_for_everyone(client: TestClient) -> None:
    assert 'href="/observatory"' in client.get("/observatory").text
    web_sign_in(client, "alice")
    assert 'href="/observatory"' in client.get("/").text


def test_the_download_links_carry_the_charts_filters(
    client: TestClient, db: Database, tmp_path: Path
) -> None:
    load_samples(db, tmp_path, publish=True)
    _, parsed = page(client, **MEXICO_2021)
    downloads = {unquote(link) for link in parsed.links if "/export?" in link}
    export = "/api/v1/indicators/export?format=csv&indicator=offences&iccs=0101&"
    assert export + "area=MX&frequency=A&source_type=police" in downloads
    assert export + "area=MX-CHH&period=2021&source_type=police" in downloads


@pytest.mark.usefixtures("samples")
def test_every_control_is_labelled_and_the_page_has_its_landmarks(
    client: TestClient, db: Database
) -> None:
    publish_all(db)
    found = audit_page(client.get("/observatory", params=MEXICO_2021).text)
    assert {"f-indicator", "f-iccs", "f-area", "f-period", "f-source-type"} <= set(found.controls)
    assert [c for c in found.controls if c not in found.labelled] == []
    assert {"header", "main", "footer", "nav"} <= set(found.tags)

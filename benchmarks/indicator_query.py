"""Indicator queries with roll-ups over ten million observations: p95 latency on SQLite
and on PostgreSQL, against a plain SQL aggregate of the same numbers in the same run.

1. A synthetic observatory, written straight into a migrated database (bulk inserts:
   ``executemany`` on SQLite, ``COPY`` on PostgreSQL), then each series' years settled
   by ``atalaya.observatory.rollups.refresh`` as the importer does:
   - Mexico: 32 states and about 1,450 municipalities; an SESNSP-like municipal police
     dataset (offences, 20 national categories of the real ``mx-sesnsp`` crosswalk with
     their ICCS codes, homicides broken down by weapon, one category without ICCS code),
     monthly from 2008-01 to 2025-05 (so 2025 is incomplete), in two editions: the
     older one (to 2024-11, four states) is superseded by the latest; two states'
     series unpublished; health victims of homicide by state and sex;
   - Colombia: its 1,122 municipalities, police victims under four ICCS codes by sex
     (male and female only: no total series), monthly 2008-2025;
   - a regional dataset of the subdivisions of eight other countries, 40 ICCS codes at
     levels 2 to 4, monthly (Brazil: quarterly), 2008-2025, homicide with a total and
     by sex; UNODC-like national yearly figures;
   - a few values not available or confidential (in one category of each dataset:
     Narcomenudeo, ICCS 0501 in Colombia, one regional code), the current year
     provisional;
     populations of every area and year (two editions for Mexico's states).
   The database is kept under ``benchmarks/out/`` (``--cache``) and reused by later runs
   (``--regenerate`` to build it again); PostgreSQL keeps its data directory there too.
2. Queries (``QUERIES``) through ``atalaya.observatory.service.indicator_values``, the
   function behind ``stats query`` and ``GET /api/v1/indicators``: ICCS sections and
   divisions rolled up from municipalities to states and countries, a year from its
   months, a time series of every year, a quarter, a month, a breakdown by sex and by
   weapon, a national category prefix; anonymous (published series) and as an analyst
   of Chihuahua (who also sees its unpublished series). Each is run ``--repetitions``
   times per round, rounds alternating with the baseline.
3. Baseline, same connection, same rounds: a plain SQL ``GROUP BY`` of the same numbers
   straight from the observations joined to their series (editions, totals and
   visibility chosen by hand for each query, no completeness rule, no rates, no
   notes), run on the DBAPI cursor. It is what answering without precomputed years and
   without Python would cost. Every value the query returns is checked against it.

    python benchmarks/indicator_query.py --database sqlite
    python benchmarks/indicator_query.py --database postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

ROOT = Path(__file__).resolve().parents[1]
OUT = Path(__file__).parent / "out"
FIRST_YEAR, LAST_YEAR = 2008, 2025
TARGET_P95_MS = 100.0
# Countries of the regional dataset, and those that publish quarterly.
REGIONAL_COUNTRIES = ("BR", "PE", "CL", "GT", "HN", "EC", "BO", "PY")
QUARTERLY = {"BR"}
SESNSP_PREFIXES = {
    "Homicidio|Homicidio doloso|": 4,
    "Homicidio|Homicidio culposo|": 2,
    "Feminicidio|": 2,
    "Lesiones|Lesiones dolosas|": 2,
    "Robo|": 6,
    "Secuestro|": 1,
    "Extorsión|": 1,
    "Narcomenudeo|": 1,
    "Otros delitos del Fuero Común|": 1,
}
UNPUBLISHED_STATES = ("MX-CHH", "MX-SIN")
# ``--small``: a few states and municipalities, to try the script in seconds.
SMALL = False
OLD_EDITION_STATES = ("MX-CHH", "MX-JAL", "MX-GUA", "MX-MEX")


# --- Databases -----------------------------------------------------------------------


@contextlib.contextmanager
def database(kind: str, cache: Path, regenerate: bool) -> Iterator[tuple[str, bool]]:
    """Yield the database's URL and whether it must be filled."""
    cache.mkdir(parents=True, exist_ok=True)
    # Gigabytes of generated data: never to be committed.
    (cache / ".gitignore").write_text("*\n")
    if kind == "sqlite":
        path = cache / "indicator-query.db"
        if regenerate:
            for suffix in ("", "-wal", "-shm", ".writer-lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        filled = (cache / "indicator-query.sqlite.done").exists() and path.exists()
        if not filled:
            (cache / "indicator-query.sqlite.done").unlink(missing_ok=True)
        yield f"sqlite:///{path}", not filled
        return
    with postgres(cache / "indicator-query-pg", regenerate) as (url, filled):
        yield url, not filled


@contextlib.contextmanager
def postgres(root: Path, regenerate: bool) -> Iterator[tuple[str, bool]]:
    """A PostgreSQL cluster kept in ``root`` between runs (as ``tests/postgres_cluster.py``
    starts its throwaway ones)."""
    from postgres_cluster import find_pg_bin

    bindir = find_pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (no pg_ctl found)")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if regenerate and root.exists():
        shutil.rmtree(root)
    data, sockets = root / "data", root / "sock"
    fresh = not data.exists()
    root.mkdir(parents=True, exist_ok=True)
    sockets.mkdir(exist_ok=True)
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")

    def run(*cmd: str) -> None:
        subprocess.run([*prefix, *cmd], check=True, capture_output=True)

    if fresh:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c shared_buffers=512MB -c max_wal_size=4GB"
    )
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(root / "log"),
        "start",
    )
    try:
        if fresh:
            run(
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "atalaya",
            )
        yield f"postgresql://postgres@127.0.0.1:{port}/atalaya", (root / "done").exists()
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            check=False,
            capture_output=True,
        )


# --- The synthetic observatory -------------------------------------------------------


@dataclass
class World:
    """What the generator wrote, for the queries and the baseline."""

    sources: dict[str, int] = field(default_factory=dict)
    series: int = 0
    observations: int = 0
    populations: int = 0
    areas_added: int = 0


SERIES_COLUMNS = (
    "id",
    "source_id",
    "indicator",
    "iccs_code",
    "national_scheme",
    "national_code",
    "area_code",
    "area_path",
    "sex",
    "age_group",
    "weapon",
    "published",
)
OBSERVATION_COLUMNS = ("series_id", "period", "frequency", "year", "month", "value", "status")
POPULATION_COLUMNS = ("source_id", "area_code", "year", "sex", "age_group", "value")


def months(last: tuple[int, int] = (LAST_YEAR, 12)) -> list[tuple[str, str, int, int]]:
    return [
        (f"{y}-{m:02d}", "M", y, m)
        for y in range(FIRST_YEAR, LAST_YEAR + 1)
        for m in range(1, 13)
        if (y, m) <= last
    ]


def quarters() -> list[tuple[str, str, int, int]]:
    return [
        (f"{y}-Q{q}", "Q", y, q * 3 - 2)
        for y in range(FIRST_YEAR, LAST_YEAR + 1)
        for q in range(1, 5)
    ]


def years() -> list[tuple[str, str, int, int]]:
    return [(str(y), "A", y, 1) for y in range(FIRST_YEAR, LAST_YEAR + 1)]


def sesnsp_categories() -> list[tuple[str, str, str]]:
    """Return (national code, ICCS code, weapon) of the categories of the MX dataset."""
    from atalaya.classification import crosswalk

    weapons = {}
    path = ROOT / "src/atalaya/observatory/data/mx-sesnsp-modalities.csv"
    with path.open(encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            weapons[row["modality"]] = row["weapon"]
    wanted = dict(SESNSP_PREFIXES)
    chosen = []
    for mapping in crosswalk("mx-sesnsp"):
        for prefix, left in wanted.items():
            if mapping.national_code.startswith(prefix) and left:
                wanted[prefix] -= 1
                modality = mapping.national_code.rsplit("|", 1)[-1]
                weapon = (
                    weapons.get(modality, "_T")
                    if prefix.startswith(("Homicidio", "Feminicidio", "Lesiones"))
                    else "_T"
                )
                chosen.append((mapping.national_code, mapping.iccs or "", weapon))
                break
    return chosen


def regional_codes() -> list[str]:
    from atalaya.classification import iccs

    codes = [c.code for c in iccs() if len(c.code) >= 4 and c.code != "0101"]
    rng = random.Random(3)
    return ["0101", *sorted(rng.sample(codes, 39))]


def generate(url: str) -> World:
    """Fill the migrated database at ``url``; return what it holds."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from atalaya.db import make_engine
    from atalaya.geo.service import seed_reference_areas
    from atalaya.migrations import upgrade
    from atalaya.settings import Settings

    engine = make_engine(Settings(database_url=url))
    upgrade(engine)
    with Session(engine) as session:
        seed_reference_areas(session)
        session.commit()
    world = World()
    rng = random.Random(2026)
    started = time.perf_counter()
    with engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None
        areas = {
            code: (path, level, parent)
            for code, path, level, parent in connection.execute(
                text("SELECT code, path, level, parent_code FROM areas")
            )
        }
        inegi = dict(
            connection.execute(
                text("SELECT area_code, value FROM area_codes WHERE scheme = 'INEGI'")
            ).all()
        )
        connection.commit()
        if not url.startswith("postgresql"):
            # The driver is in autocommit mode (atalaya.db): one transaction for it all.
            dbapi.execute("BEGIN")
        municipalities = add_mx_municipalities(dbapi, url, areas, inegi, rng, world)
        write_sources(dbapi, url, world)
        writer = Writer(dbapi, url)
        next_id = iter(range(1, 10**9))
        mx_states = sorted(c for c, (_, level, parent) in areas.items() if parent == "MX")
        if SMALL:
            mx_states = [s for s in mx_states if s in OLD_EDITION_STATES]
        categories = sesnsp_categories()
        # Mexico, municipal police offences: the latest edition, and the older one.
        for edition, last, states in (
            ("sesnsp", (2025, 5), mx_states),
            ("sesnsp_old", (2024, 11), OLD_EDITION_STATES),
        ):
            periods = months(last)
            for state in states:
                for area in municipalities[state]:
                    size = rng.lognormvariate(0, 1.2)
                    for national, code, weapon in categories:
                        published = state not in UNPUBLISHED_STATES
                        series_id = writer.series(
                            next(next_id),
                            world.sources[edition],
                            "offences",
                            code,
                            "mx-sesnsp",
                            national,
                            area,
                            areas[area][0],
                            "_T",
                            "_T",
                            weapon,
                            published,
                        )
                        gaps = 0.01 if national.startswith("Narcomenudeo") else 0.0
                        writer.observations(series_id, periods, size * base(national), rng, gaps)
        # Mexico, health victims of homicide by state and sex.
        for state in mx_states:
            for sex in ("_T", "male", "female"):
                series_id = writer.series(
                    next(next_id),
                    world.sources["health"],
                    "victims",
                    "0101",
                    "",
                    "",
                    state,
                    areas[state][0],
                    sex,
                    "_T",
                    "_T",
                    True,
                )
                writer.observations(series_id, months(), 40.0 if sex == "_T" else 20.0, rng)
        # Colombia, municipal police victims by sex, no total series.
        co_municipalities = sorted(
            c
            for c, (_, level, _p) in areas.items()
            if level == "municipality" and c.startswith("CO-")
        )
        co_municipalities = co_municipalities[:60] if SMALL else co_municipalities
        for area in co_municipalities:
            size = rng.lognormvariate(0, 1.0)
            for code in ("0101", "0201", "0401", "0501"):
                for sex in ("male", "female"):
                    series_id = writer.series(
                        next(next_id),
                        world.sources["co"],
                        "victims",
                        code,
                        "",
                        "",
                        area,
                        areas[area][0],
                        sex,
                        "_T",
                        "_T",
                        True,
                    )
                    writer.observations(
                        series_id, months(), size * 3, rng, 0.002 * (code == "0501")
                    )
        # The regional dataset: subdivisions of eight countries, 40 ICCS codes.
        codes = regional_codes()
        for country in REGIONAL_COUNTRIES:
            periods = quarters() if country in QUARTERLY else months()
            subdivisions = sorted(c for c, (_, _l, parent) in areas.items() if parent == country)
            for area in subdivisions:
                size = rng.lognormvariate(1, 1.0)
                for code in codes:
                    sexes = ("_T", "male", "female") if code == "0101" else ("_T",)
                    for sex in sexes:
                        series_id = writer.series(
                            next(next_id),
                            world.sources["regional"],
                            "offences",
                            code,
                            "",
                            "",
                            area,
                            areas[area][0],
                            sex,
                            "_T",
                            "_T",
                            True,
                        )
                        scale = 1.0 if sex == "_T" else 0.5
                        gaps = 0.005 if code == codes[-1] else 0.0
                        writer.observations(series_id, periods, size * scale * 5, rng, gaps)
        # UNODC-like national yearly figures.
        for country in ("MX", "CO", *REGIONAL_COUNTRIES):
            series_id = writer.series(
                next(next_id),
                world.sources["unodc"],
                "victims",
                "0101",
                "",
                "",
                country,
                areas[country][0],
                "_T",
                "_T",
                "_T",
                True,
            )
            writer.observations(series_id, years(), 2000.0, rng)
        writer.flush()
        world.series, world.observations = writer.series_count, writer.observation_count
        print(f"observations written in {time.perf_counter() - started:.0f} s", flush=True)
        world.populations = write_populations(dbapi, url, areas, municipalities, world, rng)
        dbapi.commit()
    settle_years(engine, world)
    engine.dispose()
    return world


def base(national: str) -> float:
    if national.startswith("Robo"):
        return 8.0
    if national.startswith(("Homicidio", "Feminicidio")):
        return 1.5
    return 3.0


def add_mx_municipalities(
    dbapi: Any,
    url: str,
    areas: dict[str, Any],
    inegi: dict[str, str],
    rng: random.Random,
    world: World,
) -> dict[str, list[str]]:
    """Add about 1,450 municipalities to Mexico's states; return them by state."""
    made: dict[str, list[str]] = {}
    rows = []
    for state in sorted(c for c, (_, _l, parent) in areas.items() if parent == "MX"):
        count = rng.randint(10, 80)
        made[state] = []
        for n in range(1, count + 1):
            code = f"MX-{inegi[state]}-{n:03d}"
            path = f"{areas[state][0]}{code}/"
            made[state].append(code)
            if code not in areas:
                areas[code] = (path, "municipality", state)
                rows.append((code, "municipality", state, "MX", path, f"Municipio {n}", "{}"))
    execute_many(
        dbapi,
        url,
        "INSERT INTO areas (code, level, parent_code, country_code, path, name, "
        "names) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    world.areas_added = len(rows)
    return made


SOURCES = {
    # key: (publisher, dataset, vintage, source type)
    "sesnsp": ("SESNSP", "IDEFC municipal", dt.date(2025, 6, 1), "police"),
    "sesnsp_old": ("SESNSP", "IDEFC municipal", dt.date(2024, 12, 1), "police"),
    "health": ("INEGI", "Defunciones por homicidio", dt.date(2025, 3, 1), "health"),
    "co": ("Policía Nacional", "Delitos por municipio", dt.date(2026, 1, 1), "police"),
    "regional": ("OEA", "Observatorio Hemisférico", dt.date(2025, 1, 1), "police"),
    "unodc": ("UNODC", "CTS", dt.date(2025, 1, 1), "police"),
    "conapo_2023": ("CONAPO", "Población", dt.date(2023, 1, 1), "demographic"),
    "conapo_2024": ("CONAPO", "Población", dt.date(2024, 1, 1), "demographic"),
    "census": ("OEA", "Población", dt.date(2024, 6, 1), "demographic"),
}


def write_sources(dbapi: Any, url: str, world: World) -> None:
    now = dt.datetime(2026, 11, 30, 12, 0)
    rows = []
    for number, (key, (publisher, dataset, vintage, kind)) in enumerate(SOURCES.items(), 1):
        world.sources[key] = number
        rows.append((number, publisher, dataset, vintage, kind, "synthetic", now))
    execute_many(
        dbapi,
        url,
        "INSERT INTO stat_sources (id, publisher, dataset, vintage, source_type, "
        "format, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def execute_many(dbapi: Any, url: str, sql: str, rows: list[tuple[Any, ...]]) -> None:
    if url.startswith("postgresql"):
        sql = sql.replace("?", "%s")
    with contextlib.closing(dbapi.cursor()) as cursor:
        cursor.executemany(sql, rows)


class Writer:
    """Series and observations, written in key order, a batch at a time."""

    BATCH = 200_000

    def __init__(self, dbapi: Any, url: str) -> None:
        self.dbapi, self.url = dbapi, url
        self.series_rows: list[tuple[Any, ...]] = []
        self.rows: list[tuple[Any, ...]] = []
        self.series_count = self.observation_count = 0

    def series(self, series_id: int, *values: Any) -> int:
        self.series_rows.append((series_id, *values))
        self.series_count += 1
        return series_id

    def observations(
        self, series_id: int, periods: list[Any], mean: float, rng: random.Random, gaps: float = 0.0
    ) -> None:
        """Add the series' values; ``gaps`` of them (a share) not available, a tenth of
        those confidential."""
        spread = max(mean, 0.5)
        for period, frequency, year, month in periods:
            draw = rng.random() if gaps else 1.0
            if draw < gaps * 0.9:
                value, status = None, "not_available"
            elif draw < gaps:
                value, status = None, "confidential"
            else:
                length = 12 if frequency == "A" else 3 if frequency == "Q" else 1
                value = float(int(spread * length * (0.5 + rng.random())))
                status = "provisional" if year == LAST_YEAR else "final"
            self.rows.append((series_id, period, frequency, year, month, value, status))
        if len(self.rows) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if self.series_rows:
            self._write("stat_series", SERIES_COLUMNS, self.series_rows)
            self.series_rows = []
        if self.rows:
            self._write("stat_observations", OBSERVATION_COLUMNS, self.rows)
            self.observation_count += len(self.rows)
            self.rows = []

    def _write(self, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
        with contextlib.closing(self.dbapi.cursor()) as cursor:
            if self.url.startswith("postgresql"):
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" * len(columns))
                # Table and column names are this script's constants.
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, rows)


def write_populations(
    dbapi: Any,
    url: str,
    areas: dict[str, Any],
    municipalities: dict[str, list[str]],
    world: World,
    rng: random.Random,
) -> int:
    rows = []
    s = world.sources
    for code, (_path, level, _parent) in sorted(areas.items()):
        country = code[:2]
        if country not in ("MX", "CO", *REGIONAL_COUNTRIES):
            continue
        size = {"country": 40_000_000, "subdivision": 2_000_000}.get(level, 60_000)
        size = int(size * (0.5 + rng.random()))
        for year in range(FIRST_YEAR, LAST_YEAR + 1):
            value = int(size * (1 + 0.01 * (year - FIRST_YEAR)))
            source = s["conapo_2023"] if country == "MX" else s["census"]
            rows.append((source, code, year, "_T", "_T", value))
            if level != "municipality":
                rows.append((source, code, year, "male", "_T", value * 49 // 100))
                rows.append((source, code, year, "female", "_T", value - value * 49 // 100))
            if country == "MX" and level == "subdivision":
                rows.append((s["conapo_2024"], code, year, "_T", "_T", value + 1000))
    execute_many(
        dbapi,
        url,
        f"INSERT INTO stat_populations ({', '.join(POPULATION_COLUMNS)}) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return len(rows)


def settle_years(engine: Any, world: World) -> None:
    """Settle every series' years and group them, as the importer does after storing
    observations."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from atalaya.observatory import rollups

    started = time.perf_counter()
    with Session(engine) as session:
        rollups.refresh(session, session.scalars(text("SELECT id FROM stat_series")))
        session.commit()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    print(f"years settled and groups added up in {time.perf_counter() - started:.0f} s", flush=True)


# --- Queries and their baselines -----------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A query, who asks it, and the plain SQL that adds up the same numbers."""

    name: str
    filters: dict[str, Any]
    analyst: bool
    # The source the baseline reads (the query answers for every source it finds: the
    # values of the others are not checked), its WHERE (over o: observations, s: series)
    # and what it groups by besides the year.
    source: int
    where: str
    group: tuple[str, ...] = ()
    period: str = "o.year"


LATEST_MX = "s.source_id = 1"
PUBLIC = "s.published"
CHIHUAHUA = "/MX/MX-CHH/"
ANALYST = f"(s.published OR s.area_path LIKE '{CHIHUAHUA}%')"
QUERIES = [
    Case(
        "ICCS section 01, Mexico from municipalities, 2021",
        dict(iccs="01", area="MX", period="2021"),
        False,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '01%' AND {PUBLIC} AND o.year = 2021",
    ),
    Case(
        "ICCS division 0101, Mexico, 2021",
        dict(iccs="0101", area="MX", period="2021"),
        False,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '0101%' AND {PUBLIC} AND o.year = 2021",
    ),
    Case(
        "ICCS section 04 (robbery), state from municipalities, 2022",
        dict(iccs="04", area="MX-JAL", period="2022"),
        False,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '04%' AND s.area_path LIKE '/MX/MX-JAL/%' AND {PUBLIC} "
        "AND o.year = 2022",
    ),
    Case(
        "time series 0101, Mexico, every year",
        dict(iccs="0101", area="MX", frequency="A"),
        False,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '0101%' AND {PUBLIC}",
    ),
    Case(
        "quarter, ICCS 04, Mexico, 2023-Q2",
        dict(iccs="04", area="MX", period="2023-Q2"),
        False,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '04%' AND {PUBLIC} AND o.year = 2023 "
        "AND o.month BETWEEN 4 AND 6",
    ),
    Case(
        "month, ICCS 0101, Colombia, 2024-12",
        dict(iccs="0101", area="CO", period="2024-12"),
        False,
        4,
        "s.source_id = 4 AND s.iccs_code LIKE '0101%' AND o.period = '2024-12'",
    ),
    Case(
        "by sex, victims 0101, Colombia from municipalities, 2021",
        dict(indicator="victims", iccs="0101", area="CO", period="2021", by=("sex",)),
        False,
        4,
        "s.source_id = 4 AND s.iccs_code LIKE '0101%' AND o.year = 2021",
        ("s.sex",),
    ),
    Case(
        "national category prefix Robo, Mexico, 2021",
        dict(national_category="mx-sesnsp:Robo", area="MX", period="2021"),
        False,
        1,
        f"{LATEST_MX} AND (s.national_code LIKE 'Robo|%') AND {PUBLIC} AND o.year = 2021",
        ("s.iccs_code",),
    ),
    Case(
        "ICCS section 01, Mexico, 2021, analyst of Chihuahua",
        dict(iccs="01", area="MX", period="2021"),
        True,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '01%' AND {ANALYST} AND o.year = 2021",
    ),
    Case(
        "by weapon, 0101, Chihuahua, 2021, analyst of Chihuahua",
        dict(iccs="0101", area="MX-CHH", period="2021", by=("weapon",)),
        True,
        1,
        f"{LATEST_MX} AND s.iccs_code LIKE '0101%' AND s.area_path LIKE '/MX/MX-CHH/%' "
        "AND o.year = 2021",
        ("s.weapon",),
    ),
    Case(
        "time series ICCS 02, Brazil (quarterly data), every year",
        dict(iccs="02", area="BR", frequency="A"),
        False,
        5,
        "s.source_id = 5 AND s.iccs_code LIKE '02%' AND s.sex = '_T' AND s.area_path LIKE '/BR/%'",
    ),
    Case(
        "every ICCS code, Peru, 2020",
        dict(area="PE", period="2020", indicator="offences"),
        False,
        5,
        "s.source_id = 5 AND s.sex = '_T' AND s.area_path LIKE '/PE/%' AND o.year = 2020",
        ("s.iccs_code",),
    ),
]


def baseline_sql(case: Case, dialect: str) -> str:
    groups = ", ".join((*case.group, case.period))
    # The baselines' SQL is this script's own (``QUERIES``).
    sql = (
        f"SELECT {groups}, sum(o.value) FROM stat_observations o "  # noqa: S608
        f"JOIN stat_series s ON s.id = o.series_id WHERE {case.where} GROUP BY {groups}"
    )
    return sql.replace("s.published", "s.published = true") if dialect == "postgresql" else sql


def analyst_visibility() -> Any:
    from atalaya.observatory.query import Visibility

    return Visibility(CHIHUAHUA)


def run_case(session: Any, case: Case) -> list[Any]:
    from atalaya.observatory.query import PUBLIC, IndicatorQuery
    from atalaya.observatory.service import indicator_values

    visibility = analyst_visibility() if case.analyst else PUBLIC
    return indicator_values(session, IndicatorQuery(**case.filters), visibility)


def run_baseline(session: Any, sql: str) -> list[tuple[Any, ...]]:
    cursor = session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def compare(case: Case, values: list[Any], baseline: list[tuple[Any, ...]]) -> tuple[int, int]:
    """Return how many values were checked against the baseline, and how many differ."""
    expected = {tuple(str(x) for x in row[:-1]): row[-1] for row in baseline}
    checked = differ = 0
    for v in values:
        if v.value is None or v.key.source.id != case.source:
            continue
        key: list[str] = []
        for column in case.group:
            key.append(str(getattr(v.key, column.removeprefix("s.").replace("iccs_code", "iccs"))))
        period = v.key.period
        if case.period == "o.year":
            key.append(str(period.year))
        checked += 1
        if abs(expected.get(tuple(key), float("nan")) - v.value) > 1e-6:
            differ += 1
    return checked, differ


def measure(engine: Any, repetitions: int, rounds: int) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    dialect = engine.dialect.name
    times: dict[str, list[float]] = {c.name: [] for c in QUERIES}
    base: dict[str, list[float]] = {c.name: [] for c in QUERIES}
    checks: dict[str, tuple[int, int, int]] = {}
    with Session(engine) as session:
        for case in QUERIES:  # warm the caches, and check the values
            values = run_case(session, case)
            checked, differ = compare(
                case, values, run_baseline(session, baseline_sql(case, dialect))
            )
            checks[case.name] = (len(values), checked, differ)
            print(
                f"  {case.name}: {len(values)} values, {checked} checked, {differ} differ",
                flush=True,
            )
        for number in range(rounds):
            for case in QUERIES:
                sql = baseline_sql(case, dialect)
                for _ in range(repetitions):
                    started = time.perf_counter()
                    run_case(session, case)
                    times[case.name].append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    run_baseline(session, sql)
                    base[case.name].append((time.perf_counter() - started) * 1000)
            print(f"  round {number + 1}: load {os.getloadavg()[0]:.2f}", flush=True)
    return summary(times, base, checks)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def summary(
    times: dict[str, list[float]],
    base: dict[str, list[float]],
    checks: dict[str, tuple[int, int, int]],
) -> dict[str, Any]:
    cases = []
    for case in QUERIES:
        t, b = times[case.name], base[case.name]
        cases.append(
            {
                "query": case.name,
                "values": checks[case.name][0],
                "checked": checks[case.name][1],
                "differ": checks[case.name][2],
                "median_ms": round(statistics.median(t), 2),
                "p95_ms": round(p95(t), 2),
                "max_ms": round(max(t), 2),
                "baseline_median_ms": round(statistics.median(b), 2),
                "baseline_p95_ms": round(p95(b), 2),
                "ratio_median": round(statistics.median(t) / statistics.median(b), 3),
            }
        )
    everything = [x for t in times.values() for x in t]
    baseline = [x for b in base.values() for x in b]
    return {
        "queries": cases,
        "overall_median_ms": round(statistics.median(everything), 2),
        "overall_p95_ms": round(p95(everything), 2),
        "overall_max_ms": round(max(everything), 2),
        "baseline_overall_median_ms": round(statistics.median(baseline), 2),
        "baseline_overall_p95_ms": round(p95(baseline), 2),
        "ratio_p95": round(p95(everything) / p95(baseline), 3),
        "target_p95_ms": TARGET_P95_MS,
        "target_met": p95(everything) <= TARGET_P95_MS,
    }


def counts(engine: Any) -> dict[str, int]:
    from sqlalchemy import text

    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in (
                "stat_series",
                "stat_observations",
                "stat_series_years",
                "stat_series_groups",
                "stat_series_group_periods",
                "stat_populations",
            )
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="SQLite file, or a PostgreSQL cluster kept under --cache (default: sqlite)",
    )
    parser.add_argument("--repetitions", type=int, default=10, help="runs of each query per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds, each query then its baseline"
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=OUT / "indicator-query",
        help="where the generated databases are kept between runs",
    )
    parser.add_argument("--regenerate", action="store_true", help="build the database again")
    parser.add_argument("--out", type=Path, default=OUT, help="where the JSON results go")
    parser.add_argument(
        "--small", action="store_true", help="a small observatory, to try the script"
    )
    args = parser.parse_args()
    if args.small:
        global SMALL
        SMALL = True
        args.cache = args.cache.with_name(args.cache.name + "-small")
    from atalaya.db import make_engine
    from atalaya.migrations import upgrade
    from atalaya.settings import Settings

    generated: dict[str, Any] = {}
    with database(args.database, args.cache, args.regenerate) as (url, empty):
        if empty:
            started = time.perf_counter()
            world = generate(url)
            generated = {"seconds": round(time.perf_counter() - started), **world.__dict__}
            done = args.cache / (
                "indicator-query.sqlite.done"
                if args.database == "sqlite"
                else "indicator-query-pg/done"
            )
            done.write_text(json.dumps(generated))
            print(f"generated in {generated['seconds']} s", flush=True)
        engine = make_engine(Settings(database_url=url))
        upgrade(engine)  # a database cached before a migration is brought up to date
        engine.dispose()
        engine = make_engine(Settings(database_url=url), read_only=True)
        held = counts(engine)
        print(json.dumps(held), flush=True)
        result = {
            "database": args.database,
            "date": dt.date.today().isoformat(),
            "held": held,
            "generated": generated,
            "repetitions": args.repetitions,
            "rounds": args.rounds,
            **measure(engine, args.repetitions, args.rounds),
        }
        engine.dispose()
    print(json.dumps(result, indent=2))
    args.out.mkdir(exist_ok=True)
    (args.out / f"indicator_query-{args.database}{'-small' if SMALL else ''}.json").write_text(
        json.dumps(result, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()

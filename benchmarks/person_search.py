"""Person search over a million persons: p95 latency on SQLite and on PostgreSQL.

1. A fresh database (SQLite file, or a throwaway PostgreSQL cluster), migrated, with a
   federal agency and a state agency; then incidents from ``synthetic.py`` (names with
   Mexican frequencies: the commonest surnames carry several per cent of people) stored
   through ``import_records``, the path ``atalaya records import`` takes, until there
   are ``--persons`` persons.
2. Queries: persons picked from the data, searched as users type them: the name as
   recorded, surnames swapped, one surname only, without accents in lower case, a typo
   in the given name, and with a date of birth. Each runs through
   ``atalaya.records.persons.find_persons`` (what the API and the search page call) for
   a federal analyst (sees everything) and a state analyst (sees one state).
3. Baseline, in the same run, on the same connection: reading the hits' rows by
   primary key, the least any search that returns them must do.

Reports p50, p95 and max latency, and how often the person searched for is among the
hits returned (at most 50, best first: a common name has more namesakes than that, all
scoring alike, so the person can be missing from the 50 without a fault of retrieval).

    python benchmarks/person_search.py --persons 1000000 --database sqlite
    python benchmarks/person_search.py --persons 1000000 --database postgresql
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from synthetic import incidents

ATALAYA = str(Path(sys.executable).with_name("atalaya"))


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'atalaya.db'}"
        return
    from postgres_cluster import throwaway_cluster

    with throwaway_cluster() as url:
        yield url


def prepare(url: str, directory: Path) -> None:
    os.environ["ATALAYA_DATABASE_URL"] = url
    os.environ["ATALAYA_DATA_DIR"] = str(directory)
    for command in (
        ["db", "upgrade"],
        ["agencies", "add", "BENCH", "--name", "Federal", "--level", "federal", "--area", "MX"],
        ["agencies", "add", "BENCH-JAL", "--name", "Jalisco", "--level", "state", "--area",
         "MX-JAL", "--parent", "BENCH"],
    ):  # fmt: skip
        subprocess.run([ATALAYA, *command], check=True, capture_output=True)


def principal(session: Any, code: str, role: str = "analyst") -> Any:
    from atalaya.accounts.authz import Principal
    from atalaya.accounts.models import AgencyLevel, Role
    from atalaya.accounts.service import get_agency

    agency = get_agency(session, code)
    return Principal(
        0,
        "bench",
        agency.id,
        agency.code,
        AgencyLevel(agency.level),
        agency.area.path,
        frozenset({Role(role)}),
    )


def populate(rt: Any, persons: int, keep_every: int) -> tuple[list[dict[str, Any]], float]:
    """Store incidents until ``persons`` persons; return some of them (to search for)
    and the seconds it took."""
    from atalaya.clitools import cli_context
    from atalaya.records.imports import import_records
    from atalaya.records.schema import IncidentIn

    kept: list[dict[str, Any]] = []
    counted = {"persons": 0}

    def records() -> Iterator[tuple[str, Any]]:
        for record in incidents(persons, seed=11):
            for person in record["persons"]:
                counted["persons"] += 1
                if counted["persons"] % keep_every == 0:
                    kept.append({**person, "area": record["area"]})
            yield record["reference"], IncidentIn.model_validate(record)
            if counted["persons"] >= persons:
                return

    with rt.db.sessions() as session:
        federal = principal(session, "BENCH", "officer")
    started = time.perf_counter()
    report = import_records(rt.db.sessions, federal, cli_context(), records(), batch_size=5000)
    elapsed = time.perf_counter() - started
    print(f"stored {report.stored} incidents, {counted['persons']} persons in {elapsed:.0f} s")
    return kept, elapsed


def plain(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def queries(targets: list[dict[str, Any]], count: int) -> list[tuple[str, dict[str, Any], Any]]:
    from atalaya.records.persons import PersonQuery

    rng = random.Random(5)
    made = []
    for n, target in enumerate(rng.sample(targets, min(count, len(targets)))):
        given, surnames = target["given_names"], target["surnames"]
        first, second = surnames.split(" ", 1) if " " in surnames else (surnames, "")
        variant = ["as recorded", "surnames swapped", "one surname", "no accents",
                   "typo in given name", "with date of birth"][n % 6]  # fmt: skip
        query = {
            "as recorded": PersonQuery(given, surnames),
            "surnames swapped": PersonQuery(given, f"{second} {first}"),
            "one surname": PersonQuery(given, first),
            "no accents": PersonQuery(plain(given), plain(surnames)),
            "typo in given name": PersonQuery(typo(given, rng), surnames),
            "with date of birth": PersonQuery(given, surnames, target.get("date_of_birth")),
        }[variant]
        made.append((variant, target, query))
    return made


def found(target: dict[str, Any], hits: list[Any]) -> bool:
    return any(
        h.person.given_names == target["given_names"] and h.person.surnames == target["surnames"]
        for h in hits
    )


def measure(rt: Any, code: str, made: list[tuple[str, dict[str, Any], Any]]) -> dict[str, Any]:
    from sqlalchemy import select

    from atalaya.records.models import Involvement
    from atalaya.records.persons import find_persons

    with rt.db.read_sessions() as session:
        who = principal(session, code)
        for _, _, query in made[:20]:  # warm the caches
            find_persons(session, who, query)
        search, base, recall, visible, counts = [], [], 0, 0, []
        by_variant: dict[str, list[int]] = {}
        for variant, target, query in made:
            started = time.perf_counter()
            hits = find_persons(session, who, query)
            search.append((time.perf_counter() - started) * 1000)
            ids = [h.person.id for h in hits]
            started = time.perf_counter()
            session.execute(select(Involvement).where(Involvement.id.in_(ids))).all()
            session.expunge_all()
            base.append((time.perf_counter() - started) * 1000)
            counts.append(len(hits))
            if code == "BENCH" or target["area"] == "MX-JAL":
                visible += 1
                recall += found(target, hits)
                by_variant.setdefault(variant, []).append(found(target, hits))
    p95 = statistics.quantiles(search, n=20)[18]
    base_p95 = statistics.quantiles(base, n=20)[18]
    return {
        "principal": code,
        "queries": len(made),
        "p50_ms": round(statistics.median(search), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(max(search), 2),
        "baseline_p50_ms": round(statistics.median(base), 2),
        "baseline_p95_ms": round(base_p95, 2),
        "ratio_p95": round(p95 / base_p95, 1),
        "median_hits": statistics.median(counts),
        "recall": round(recall / visible, 3) if visible else None,
        "searched_visible_targets": visible,
        "recall_by_variant": {v: round(sum(f) / len(f), 3) for v, f in by_variant.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.database, Path(tmp)) as url:
        prepare(url, Path(tmp))
        from atalaya.runtime import Runtime
        from atalaya.settings import Settings

        rt = Runtime.from_settings(Settings())
        targets, load_seconds = populate(rt, args.persons, max(1, args.persons // 5000))
        made = queries(targets, args.queries)
        results = [measure(rt, code, made) for code in ("BENCH", "BENCH-JAL")]
    by_variant: dict[str, int] = {}
    for variant, _, _ in made:
        by_variant[variant] = by_variant.get(variant, 0) + 1
    result = {
        "database": args.database,
        "persons": args.persons,
        "load_seconds": round(load_seconds),
        "variants": by_variant,
        "results": results,
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(exist_ok=True)
    (args.out / f"person_search-{args.database}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

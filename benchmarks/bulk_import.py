"""Bulk import of jsonl incidents into SQLite, against a plain sqlite3 executemany of the
same rows, in the same run; and peak memory of the import for a file ten times larger.

For each round:
1. a fresh database (``atalaya db upgrade``), one federal agency;
2. ``atalaya records import FILE --format jsonl`` as a separate process, timed end to
   end (start-up, reading, validation, writing) with its peak resident memory;
3. the baseline: every row that import wrote (incidents, offences, persons, name keys,
   vehicles, versions, and the queue of new incidents to count in the observatory's
   indicators) is read back in the order the file gave them (by id; name keys by
   person), and written with plain ``sqlite3`` ``executemany``,
   one statement per table and one transaction in all, into another fresh database with the same
   schema, indexes, triggers and pragmas (WAL, synchronous=NORMAL, foreign keys on).
   Only the inserts and the commit are timed;
4. then ``atalaya stats count`` counts the queued incidents in the indicators computed
   from records (series, monthly observations, settled years, groups), as the worker
   does in the background, timed as its own process and reported beside the import.

The import runs with ``--defer-counting``: storing the records is what the import
target is about, and counting them is the worker's job (the import's default is to
count at its end: the two times added up).

The memory check imports a file of N/10 records and one of N into fresh databases and
compares the peak resident memory of the two processes.

    python benchmarks/bulk_import.py --incidents 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from synthetic import write_jsonl

ATALAYA = str(Path(sys.executable).with_name("atalaya"))
TABLES = [
    "incidents",
    "offences",
    "involvements",
    "person_name_keys",
    "vehicles",
    "firearms",
    "identity_documents",
    "incident_versions",
    # The new incidents the import queues for counting in the observatory's indicators.
    "stat_pending_counts",
]


def fresh_database(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True)
    env = {
        **os.environ,
        "ATALAYA_DATA_DIR": str(directory),
        "ATALAYA_DATABASE_URL": f"sqlite:///{directory / 'atalaya.db'}",
    }
    for command in (
        ["db", "upgrade"],
        ["agencies", "add", "BENCH", "--name", "Benchmark", "--level", "federal", "--area", "MX"],
    ):
        subprocess.run([ATALAYA, *command], env=env, check=True, capture_output=True)
    return env


def run_import(env: dict[str, str], path: Path) -> tuple[float, int, str]:
    """Return wall seconds, peak resident memory (KiB) and the import's report line."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            ATALAYA,
            "records",
            "import",
            str(path),
            "--format",
            "jsonl",
            "--agency",
            "BENCH",
            "--defer-counting",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"import failed: {output}")
    report = next(line for line in output.splitlines() if line.startswith("read "))
    return elapsed, usage.ru_maxrss, report


def run_count(env: dict[str, str]) -> float:
    """Return the wall seconds of ``atalaya stats count`` (the queued incidents)."""
    started = time.perf_counter()
    subprocess.run([ATALAYA, "stats", "count"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def plain_insert(source: Path, target: Path) -> tuple[float, int]:
    """Run ``copy_rows`` in a child process, so this one stays small: a child forked
    from a large process would report the parent's memory as its own peak."""
    done = subprocess.run(
        [sys.executable, __file__, "--copy", str(source), str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    seconds, rows = json.loads(done.stdout)
    return seconds, rows


def copy_rows(source: Path, target: Path) -> tuple[float, int]:
    """Copy every imported row with plain executemany; return seconds and row count."""
    with sqlite3.connect(source) as db:
        # In the order the rows arrived: as the file lists the incidents.
        order = {
            "person_name_keys": "involvement_id, key",
            "stat_pending_counts": "incident_id",
        }
        rows = {
            t: db.execute(f"SELECT * FROM {t} ORDER BY {order.get(t, 'id')}").fetchall()  # noqa: S608
            for t in TABLES
        }
        columns = {t: [c[1] for c in db.execute(f"PRAGMA table_info({t})")] for t in TABLES}
    connection = sqlite3.connect(target, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA foreign_keys=ON")
    started = time.perf_counter()
    connection.execute("BEGIN")
    for table in TABLES:
        marks = ", ".join("?" for _ in columns[table])
        names = ", ".join(columns[table])
        connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows[table])  # noqa: S608
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed, sum(len(r) for r in rows.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--copy", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.copy:
        print(json.dumps(copy_rows(*args.copy)))
        return
    n = args.incidents
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, small = work / "big.jsonl", work / "small.jsonl"
        write_jsonl(str(big), n)
        write_jsonl(str(small), n // 10)
        rounds = []
        for number in range(args.rounds):
            env = fresh_database(work / f"import-{number}")
            seconds, peak, report = run_import(env, big)
            source = Path(env["ATALAYA_DATA_DIR"]) / "atalaya.db"
            fresh_database(work / f"plain-{number}")
            plain_seconds, row_count = plain_insert(source, work / f"plain-{number}" / "atalaya.db")
            count_seconds = run_count(env)
            rounds.append(
                {
                    "import_seconds": round(seconds, 2),
                    "import_per_second": round(n / seconds),
                    "import_peak_kib": peak,
                    "report": report,
                    "plain_seconds": round(plain_seconds, 2),
                    "plain_per_second": round(n / plain_seconds),
                    "rows": row_count,
                    "ratio": round(plain_seconds / seconds, 3),
                    "count_seconds": round(count_seconds, 2),
                    "count_per_second": round(n / count_seconds),
                }
            )
            print(json.dumps(rounds[-1]), flush=True)
        small_env = fresh_database(work / "memory-small")
        _, small_peak, _ = run_import(small_env, small)
        memory = {
            "small_incidents": n // 10,
            "small_peak_kib": small_peak,
            "large_incidents": n,
            "large_peak_kib": statistics.median(r["import_peak_kib"] for r in rounds),
        }
        memory["ratio"] = round(memory["large_peak_kib"] / small_peak, 3)
    result = {
        "incidents": n,
        "rounds": rounds,
        "median_import_per_second": statistics.median(r["import_per_second"] for r in rounds),
        "median_plain_per_second": statistics.median(r["plain_per_second"] for r in rounds),
        "median_ratio": statistics.median(r["ratio"] for r in rounds),
        "median_count_per_second": statistics.median(r["count_per_second"] for r in rounds),
        "memory": memory,
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(exist_ok=True)
    (args.out / "bulk_import.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

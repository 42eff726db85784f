"""Import of the SESNSP state incidence file (IDEFC_NM, May 2022 edition) into SQLite,
against a pandas ``read_csv`` plus ``melt`` of the same file, in the same run.

For each round (the import and the baseline alternate):
1. a fresh database (``atalaya db upgrade``) in a temporary directory;
2. ``atalaya stats import FILE --format sesnsp-idefc`` as a separate process, timed end
   to end (start-up, reading, crosswalk look-ups, writing, commit); the observations
   stored are then counted in ``stat_observations``;
3. ``atalaya --help`` as a separate process, timed end to end: the program's start-up
   (Python, the command's modules), measured in the same round. The import does not
   print its own time; "import less start-up" is the import's wall time less this one;
4. the baseline, as a separate process (``python stats_import.py --pandas FILE``): pandas
   ``read_csv`` of the file (latin-1, ``thousands=","`` for the editions that quote
   counts as thousands) and ``melt`` of the twelve month columns into one row per
   observation, blank months dropped. Timed twice: the whole process end to end (start-up
   and ``import pandas`` included, like the import), and in process (``read_csv`` plus
   ``melt`` plus ``dropna`` only, reported by the child).

pandas is not a dependency of Atalaya; it is installed into the venv for this benchmark
only:

    .venv/bin/pip install pandas   # benchmark only, not a dependency of Atalaya
    python benchmarks/stats_import.py --rounds 5

Target (issue 4): the import in under 5 s on SQLite.
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
from importlib.metadata import version
from pathlib import Path

ATALAYA = str(Path(sys.executable).with_name("atalaya"))
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "shared/data/mx-sesnsp/IDEFC_NM_may22.csv"
# The file's month columns (as in atalaya.observatory.sesnsp; not imported from it, so
# that the pandas baseline's process does not load Atalaya).
MONTHS = [
    "Enero",
    "Febrero",
    "Marzo",
    "Abril",
    "Mayo",
    "Junio",
    "Julio",
    "Agosto",
    "Septiembre",
    "Octubre",
    "Noviembre",
    "Diciembre",
]
TARGET_SECONDS = 5.0


def fresh_database(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True)
    env = {
        **os.environ,
        "ATALAYA_DATA_DIR": str(directory),
        "ATALAYA_DATABASE_URL": f"sqlite:///{directory / 'atalaya.db'}",
    }
    subprocess.run([ATALAYA, "db", "upgrade"], env=env, check=True, capture_output=True)
    return env


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    """Run ``command`` as its own process; return wall seconds and its standard output."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed, done.stdout


def run_import(env: dict[str, str], path: Path) -> tuple[float, int, str]:
    """Return wall seconds, observations stored and the import's report line."""
    seconds, output = timed(
        [ATALAYA, "stats", "import", str(path), "--format", "sesnsp-idefc"], env
    )
    report = next(line for line in output.splitlines() if line.startswith("source "))
    with sqlite3.connect(Path(env["ATALAYA_DATA_DIR"]) / "atalaya.db") as db:
        (stored,) = db.execute("SELECT count(*) FROM stat_observations").fetchone()
    return seconds, stored, report


def pandas_melt(path: Path) -> tuple[float, int, int]:
    """In the child: read and melt the file; return seconds, observations and rows."""
    import pandas as pd

    started = time.perf_counter()
    frame = pd.read_csv(path, encoding="latin-1", thousands=",")
    ids = [c for c in frame.columns if c not in MONTHS]
    long = frame.melt(id_vars=ids, value_vars=MONTHS, var_name="month", value_name="count")
    long = long.dropna(subset=["count"])
    elapsed = time.perf_counter() - started
    return elapsed, len(long), len(frame)


def run_pandas(path: Path) -> tuple[float, float, int, int]:
    """Return the baseline process's wall seconds, its in-process seconds, observations
    and rows."""
    wall, output = timed([sys.executable, __file__, "--pandas", str(path)])
    seconds, observations, rows = json.loads(output)
    return wall, seconds, observations, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--pandas", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pandas:
        print(json.dumps(pandas_melt(args.pandas)))
        return
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for number in range(args.rounds):
            env = fresh_database(Path(tmp) / f"import-{number}")
            seconds, stored, report = run_import(env, args.file)
            startup, _ = timed([ATALAYA, "--help"], env)
            pandas_wall, pandas_seconds, observations, rows = run_pandas(args.file)
            if observations != stored:
                print(f"pandas found {observations} observations, import stored {stored}")
            rounds.append(
                {
                    "import_seconds": round(seconds, 3),
                    "startup_seconds": round(startup, 3),
                    "import_less_startup_seconds": round(seconds - startup, 3),
                    "observations_stored": stored,
                    "report": report,
                    "pandas_process_seconds": round(pandas_wall, 3),
                    "pandas_seconds": round(pandas_seconds, 3),
                    "pandas_observations": observations,
                    "rows": rows,
                    "ratio_process": round(seconds / pandas_wall, 3),
                    "ratio_less_startup": round((seconds - startup) / pandas_seconds, 3),
                    "load_average": os.getloadavg()[0],
                }
            )
            print(json.dumps(rounds[-1]), flush=True)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 3)

    result = {
        "file": args.file.name,
        "rounds": rounds,
        "median_import_seconds": median("import_seconds"),
        "median_startup_seconds": median("startup_seconds"),
        "median_import_less_startup_seconds": median("import_less_startup_seconds"),
        "median_pandas_process_seconds": median("pandas_process_seconds"),
        "median_pandas_seconds": median("pandas_seconds"),
        "median_ratio_process": median("ratio_process"),
        "median_ratio_less_startup": median("ratio_less_startup"),
        "target_seconds": TARGET_SECONDS,
        "target_met": median("import_seconds") < TARGET_SECONDS,
        "slowest_import_seconds": max(r["import_seconds"] for r in rounds),
        "pandas_version": version("pandas"),
    }
    print(json.dumps(result, indent=2))
    args.out.mkdir(exist_ok=True)
    (args.out / "stats_import.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""An import killed with SIGKILL leaves whole batches, and running it again completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.records.models import Incident, IncidentVersion, Involvement, PersonNameKey
from atalaya.settings import Settings
from records.test_imports import jsonl
from records.test_incidents_api import homicide

runner = CliRunner()
RECORDS, BATCH = 12_000, 100


def counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as c:
        return tuple(  # type: ignore[return-value]
            c.scalar(select(func.count()).select_from(model)) or 0
            for model in (Incident, IncidentVersion, Involvement, PersonNameKey)
        )


def test_a_killed_import_leaves_whole_batches_and_a_rerun_completes(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = jsonl(
        tmp_path / "in.jsonl",
        [homicide(reference=f"K-{n:05d}", vehicles=[]) for n in range(RECORDS)],
    )
    command = ["records", "import", str(path), "--format", "jsonl", "--agency", "MX-SSPM-JUA"]
    process = subprocess.Popen(
        [sys.executable, "-m", "atalaya", *command, "--batch-size", str(BATCH)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = make_engine(cli_env)
    try:
        deadline = time.monotonic() + 120
        while counts(engine)[0] < 3 * BATCH and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        stored, versions, persons, keys = counts(engine)
        assert 0 < stored < RECORDS, "the import ended before it could be killed"
        assert stored % BATCH == 0  # whole batches only
        assert versions == persons == stored and keys == stored * len(keys_of_one_victim())
        again = runner.invoke(cli, command)
        assert again.exit_code == 0, again.output
        assert f"{RECORDS - stored} stored, 0 updated, {stored} unchanged, 0 rejected" in (
            again.output
        )
        assert counts(engine)[0] == RECORDS
    finally:
        if process.poll() is None:
            process.kill()
        engine.dispose()


def keys_of_one_victim() -> set[str]:
    from atalaya.matching.names import keys

    victim = homicide()["persons"][0]
    return keys(victim["given_names"], victim["surnames"])

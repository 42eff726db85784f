"""Hit/no-hit between two real nodes, each ``atalaya serve`` on 127.0.0.1 with its own
SQLite database and keys, set up and queried with the ``atalaya`` command and the API."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from conftest import free_port

STOLEN_VIN = "1M8GDM9AXKP042788"
UNKNOWN_VINS = ("3VWFE21C04M000001", "WVWZZZ1JZXW000002")


@dataclass
class Served:
    """A node served by its own process: its URL, environment and fingerprint."""

    node_id: str
    url: str
    env: dict[str, str]
    database: Path
    fingerprint: str = ""

    def run(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "atalaya", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{args}: {result.stderr}"
        return result

    def token(self, username: str) -> dict[str, str]:
        token = self.run("tokens", "create", username).stdout.strip().splitlines()[-1]
        return {"Authorization": f"Bearer {token}"}


def _start(root: Path, node_id: str, country: str) -> tuple[Served, subprocess.Popen[bytes]]:
    port = free_port()
    database = root / f"{node_id}.db"
    env = {
        **os.environ,
        "ATALAYA_DATABASE_URL": f"sqlite:///{database}",
        "ATALAYA_DATA_DIR": str(root / node_id),
        "ATALAYA_SECRET_KEY": f"{node_id}-test-secret",
        "ATALAYA_ARGON2_TIME_COST": "1",
        "ATALAYA_ARGON2_MEMORY_KIB": "1024",
    }
    served = Served(node_id, f"http://127.0.0.1:{port}", env, database)
    served.run("db", "upgrade")
    served.run("demo", "--incidents", "0", "--quiet")
    init = served.run(
        "node",
        "init",
        "--id",
        node_id,
        "--name",
        node_id,
        "--country",
        country,
        "--url",
        served.url,
    )
    served.fingerprint = init.stdout.split("fingerprint: ")[1].strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "atalaya", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    return served, process


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    """A (``mx-sspc``) may ask B (``co-ponal``) about vehicles; B lets it."""
    a, a_process = _start(tmp_path, "mx-sspc", "MX")
    b, b_process = _start(tmp_path, "co-ponal", "CO")
    try:
        a.run("peers", "add", b.url, "--fingerprint", b.fingerprint)
        b.run("peers", "add", a.url, "--fingerprint", a.fingerprint)
        a.run("agreements", "add", "--peer", b.node_id, "--send", "hit:vehicle")
        b.run("agreements", "add", "--peer", a.node_id, "--receive", "hit:vehicle")
        yield a, b
    finally:
        for process in (a_process, b_process):
            process.terminate()
            process.wait(timeout=20)


def _record_stolen_vehicle(b: Served) -> None:
    incident = {
        "reference": "JUA-2026-HIT",
        "occurred_from": "2026-11-20T22:15",
        "area": "MX-08-037",
        "offences": [{"iccs": "050211"}],
        "vehicles": [{"status": "stolen", "vin": STOLEN_VIN, "plate": "EFG-12-34"}],
    }
    response = httpx.post(f"{b.url}/api/v1/incidents", json=incident, headers=b.token("alice"))
    assert response.status_code == 201, response.text


def _text_in_database(path: Path, needle: str) -> list[str]:
    """Return the tables of the SQLite database at ``path`` with a value holding
    ``needle``, reading every column of every row; and ``<file>`` if the bytes of the
    database or its write-ahead log hold it at all."""
    found = []
    with sqlite3.connect(path) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                if any(needle in str(v).upper() for v in row if v is not None):
                    found.append(table)
                    break
    for file in (path, path.with_name(path.name + "-wal")):
        if file.exists() and needle.encode() in file.read_bytes():
            found.append("<file>")
    return found


@pytest.mark.slow
def test_a_stolen_vin_on_b_is_a_hit_an_unknown_one_is_not_and_b_keeps_no_plaintext(
    nodes: tuple[Served, Served],
) -> None:
    a, b = nodes
    _record_stolen_vehicle(b)
    asked = {"type": "vin", "value": "1m8gdm9ax kp042788", "purpose": "stolen_property_check"}

    hit = httpx.post(f"{a.url}/api/v1/hits", json=asked, headers=a.token("alice"), timeout=30)

    assert hit.status_code == 200, hit.text
    (answer,) = hit.json()["answers"]
    assert (answer["peer"], answer["outcome"], answer["code"]) == ("co-ponal", "hit", None)
    assert len(answer["references"]) == 1 and STOLEN_VIN not in answer["references"][0]

    missed = httpx.post(
        f"{a.url}/api/v1/hits",
        json={**asked, "value": UNKNOWN_VINS[0]},
        headers=a.token("bob"),
        timeout=30,
    )
    assert [(x["outcome"], x["references"]) for x in missed.json()["answers"]] == [("no_hit", [])]

    by_command = a.run(
        "hits", "query", "--type", "vin", "--value", UNKNOWN_VINS[1],
        "--purpose", "border_check", "--user", "bob",
    )  # fmt: skip
    assert by_command.stdout.startswith("co-ponal: no hit (query ")

    for vin in UNKNOWN_VINS:
        assert _text_in_database(b.database, vin) == []
        assert _text_in_database(a.database, vin) == []
    # B holds the stolen VIN in its own record of the theft, and nowhere else.
    assert set(_text_in_database(b.database, STOLEN_VIN)) - {"<file>"} <= {
        "vehicles",
        "incident_versions",
    }
    audit = b.run("audit", "verify")
    assert audit.returncode == 0

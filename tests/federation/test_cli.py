"""``atalaya node``, ``peers`` and ``agreements`` commands, against a foreign node served
by a real process on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.federation import peers
from atalaya.federation.models import Agreement, Direction, Peer
from atalaya.settings import Settings
from conftest import TEST_CONTEXT, free_port

from .conftest import FOREIGN_URL, ForeignNode

runner = CliRunner()


@pytest.mark.parametrize("command", [["node", "init"], ["peers", "add"], ["agreements", "add"]])
def test_the_commands_explain_themselves(command: list[str]) -> None:
    result = runner.invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atalaya", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def foreign_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A foreign node (its own SQLite database) served by ``atalaya serve``; yield its
    URL and the fingerprint its ``node init`` printed."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "ATALAYA_DATABASE_URL": f"sqlite:///{tmp_path / 'foreign.db'}",
        "ATALAYA_DATA_DIR": str(tmp_path / "foreign"),
        "ATALAYA_SECRET_KEY": "foreign-test-secret",
    }
    assert _run("db", "upgrade", env=env).returncode == 0
    init = _run(
        "node",
        "init",
        "--id",
        "co-ponal",
        "--name",
        "PONAL",
        "--country",
        "CO",
        "--url",
        url,
        env=env,
    )
    assert init.returncode == 0, init.stderr
    fingerprint = init.stdout.split("fingerprint: ")[1].strip()
    process = subprocess.Popen(
        [sys.executable, "-m", "atalaya", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url, fingerprint
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.slow
def test_peers_add_pins_only_the_fingerprint_given_out_of_band(
    cli_env: Settings, foreign_server: tuple[str, str]
) -> None:
    url, fingerprint = foreign_server
    init = runner.invoke(
        cli,
        [
            "node",
            "init",
            "--id",
            "mx-sspc",
            "--name",
            "SSPC",
            "--country",
            "MX",
            "--url",
            "https://mx",
        ],
    )
    assert init.exit_code == 0, init.output
    shown = runner.invoke(cli, ["node", "show"])
    assert init.output.splitlines()[-1] in shown.output

    wrong = runner.invoke(cli, ["peers", "add", url, "--fingerprint", "A" * 43])
    assert wrong.exit_code == 1 and "FED-120" in wrong.output
    engine = make_engine(cli_env)
    with Session(engine) as session:
        assert session.scalar(select(func.count(Peer.id))) == 0
        refusal = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert refusal is not None and (refusal.action, refusal.outcome) == (
            "federation.peer_add",
            "denied",
        )

    right = runner.invoke(cli, ["peers", "add", url, "--fingerprint", fingerprint])
    assert right.exit_code == 0, right.output
    added = runner.invoke(
        cli,
        [
            "agreements",
            "add",
            "--peer",
            "co-ponal",
            "--receive",
            "node:ping,alert:wanted",
            "--until",
            "2099-12-31",
        ],
    )
    assert added.exit_code == 0, added.output
    unknown = runner.invoke(cli, ["agreements", "add", "--peer", "co-ponal", "--send", "alert:all"])
    assert unknown.exit_code == 1 and "FED-125" in unknown.output
    with Session(engine) as session:
        peer = session.scalars(select(Peer)).one()
        agreement = session.scalars(select(Agreement)).one()
        assert peer.node_id == "co-ponal"
        assert (agreement.peer_id, agreement.classes("receive")) == (  # type: ignore[arg-type]
            peer.id,
            ["node:ping", "alert:wanted"],
        )
        assert agreement.valid_until is not None and agreement.valid_until.year == 2100
    engine.dispose()


def test_amending_an_agreement_changes_only_what_is_given(
    cli_env: Settings, foreign: ForeignNode
) -> None:
    engine = make_engine(cli_env)
    description = peers.fetch_description(foreign.client, FOREIGN_URL)
    with Session(engine) as session:
        peers.add_peer(session, TEST_CONTEXT, description, description.fingerprint)
        session.commit()

    def newest_terms() -> tuple[object, ...]:
        with Session(engine) as session:
            a = session.scalars(select(Agreement).order_by(Agreement.version.desc())).first()
            assert a is not None
            until = a.valid_until.year if a.valid_until else None
            send, receive = a.classes(Direction.SEND), a.classes(Direction.RECEIVE)
            return (a.version, send, receive, json.loads(a.conditions), a.daily_limit, until)

    add = ["agreements", "add", "--peer", "co-ponal", "--send", "alert:wanted"]
    add += ["--receive", "node:ping,hit:vehicle", "--condition", "H2", "--daily-limit", "100"]
    assert runner.invoke(cli, [*add, "--until", "2099-12-31"]).exit_code == 0
    both = ["node:ping", "hit:vehicle"]

    limit = runner.invoke(cli, ["agreements", "amend", "co-ponal-1", "--daily-limit", "500"])
    assert limit.exit_code == 0, limit.output
    assert newest_terms() == (2, ["alert:wanted"], both, ["H2"], 500, 2100)

    emptied = runner.invoke(cli, ["agreements", "amend", "co-ponal-1", "--send", "", "--no-until"])
    assert emptied.exit_code == 0, emptied.output
    assert newest_terms() == (3, [], both, ["H2"], 500, None)
    engine.dispose()


def test_an_agreements_last_day_is_refused_in_digits_other_than_ascii(
    cli_env: Settings, foreign: ForeignNode
) -> None:
    engine = make_engine(cli_env)
    description = peers.fetch_description(foreign.client, FOREIGN_URL)
    with Session(engine) as session:
        peers.add_peer(session, TEST_CONTEXT, description, description.fingerprint)
        session.commit()
    add = ["agreements", "add", "--peer", "co-ponal", "--receive", "node:ping", "--until"]
    refused = runner.invoke(cli, [*add, "٢٠٩٩-12-31"])  # Arabic-Indic digits
    assert refused.exit_code != 0 and "API-104" in refused.output, refused.output
    assert runner.invoke(cli, [*add, "2099-12-31"]).exit_code == 0
    amend = runner.invoke(cli, ["agreements", "amend", "co-ponal-1", "--until", "２１００-01-01"])
    assert amend.exit_code != 0 and "API-104" in amend.output, amend.output
    with Session(engine) as session:
        (agreement,) = session.scalars(select(Agreement)).all()
        assert (agreement.version, agreement.valid_until.year) == (1, 2100)  # type: ignore[union-attr]
    engine.dispose()

"""The ``atalaya`` command: every command has help; failures exit non-zero with a code."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.main import get_command
from typer.testing import CliRunner

from atalaya.accounts.models import Agency, User
from atalaya.audit.models import AuditEntry
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.geo.models import Area
from atalaya.settings import Settings

runner = CliRunner()


def all_commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        found.append(path)
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                walk(sub, [*path, name])

    walk(get_command(cli), [])
    return found


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "atalaya")
def test_every_command_has_help(path: list[str]) -> None:
    result = runner.invoke(cli, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 2, f"{path} has no description"


def counts(settings: Settings) -> tuple[int, ...]:
    engine = make_engine(settings)
    with Session(engine) as s:
        result = tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Area, Agency, User, AuditEntry)
        )
    engine.dispose()
    return result


def test_demo_twice_changes_nothing(cli_env: Settings) -> None:
    before = counts(cli_env)
    result = runner.invoke(cli, ["demo", "--incidents", "0"])
    assert result.exit_code == 0 and "0 rows created" in result.output
    assert "alice" in result.output and "atalaya-demo" in result.output
    assert counts(cli_env) == before


def test_agencies_add_and_its_errors(cli_env: Settings) -> None:
    ok = runner.invoke(
        cli,
        [
            "agencies",
            "add",
            "MX-PM-GDL2",
            "--name",
            "Policía",
            "--level",
            "municipal",
            "--area",
            "MX-14-039",
            "--parent",
            "MX-SSPC",
        ],
    )
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(
        cli,
        [
            "agencies",
            "add",
            "MX-PM-GDL2",
            "--name",
            "P",
            "--level",
            "municipal",
            "--area",
            "MX-14-039",
        ],
    )
    assert again.exit_code == 1 and "ACC-103" in again.output
    bad = runner.invoke(
        cli, ["agencies", "add", "X", "--name", "X", "--level", "cosmic", "--area", "MX"]
    )
    assert bad.exit_code == 1 and "ACC-104" in bad.output


def test_users_add_reads_the_password_from_stdin(cli_env: Settings) -> None:
    result = runner.invoke(
        cli,
        ["users", "add", "zoe", "--agency", "MX-SSPC", "--role", "analyst", "--role", "auditor"],
        input="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    short = runner.invoke(
        cli, ["users", "add", "yves", "--agency", "MX-SSPC", "--role", "analyst"], input="short\n"
    )
    assert short.exit_code == 1 and "ACC-107" in short.output
    weak = runner.invoke(
        cli, ["users", "add", "yves", "--agency", "MX-SSPC", "--role", "analyst"],
        input="aaaaaaaaaaaa\n",
    )  # fmt: skip
    assert weak.exit_code == 1 and "ACC-114" in weak.output and "aaa" in weak.output


def test_the_operator_grants_any_role_but_no_agency_ranks_above_its_parent(
    cli_env: Settings,
) -> None:
    """The command line is the node's operator, who holds no role: ``users add`` grants
    any role in any agency. An agency's level stays within its parent's all the same."""
    granted = runner.invoke(
        cli, ["users", "add", "ines", "--agency", "MX-SSPM-JUA", "--role", "auditor",
              "--role", "administrator"], input="ribbed-lantern-quarry-53\n",
    )  # fmt: skip
    assert granted.exit_code == 0, granted.output
    above = runner.invoke(
        cli, ["agencies", "add", "MX-FED-X", "--name", "X", "--level", "federal",
              "--area", "MX-08-037", "--parent", "MX-SSPM-JUA"],
    )  # fmt: skip
    assert above.exit_code == 1 and "ACC-112" in above.output


def test_tokens_create_prints_the_token_alone_on_the_last_line(cli_env: Settings) -> None:
    from fastapi.testclient import TestClient

    from atalaya.app import create_app

    result = runner.invoke(cli, ["tokens", "create", "alice", "--days", "1"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert token.startswith("atl_") and " " not in token
    with TestClient(create_app(cli_env)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["username"] == "alice"
    revoke_id = result.output.split()[1]
    assert runner.invoke(cli, ["tokens", "revoke", revoke_id]).exit_code == 0
    with TestClient(create_app(cli_env)) as client:
        assert (
            client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )


def test_tokens_create_for_an_unknown_user_fails(cli_env: Settings) -> None:
    result = runner.invoke(cli, ["tokens", "create", "ghost"])
    assert result.exit_code == 1 and "ACC-109" in result.output


def test_areas_load_is_idempotent(cli_env: Settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from geo.test_areas import AREA_FILE

    path = tmp_path / "areas.csv"
    path.write_text(AREA_FILE)
    first = runner.invoke(cli, ["areas", "load", str(path)])
    assert first.exit_code == 0 and "4 changes" in first.output
    second = runner.invoke(cli, ["areas", "load", str(path)])
    assert "0 changes" in second.output

"""``atalaya backup`` and ``restore``: a consistent snapshot, refused when it fails its checksum;
no backup of a damaged database."""

from __future__ import annotations

import io
import re
import sqlite3
import tarfile
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from atalaya.accounts.models import Agency
from atalaya.cli import app as cli
from atalaya.db import make_engine
from atalaya.settings import Settings
from conftest import is_postgres

runner = CliRunner()


def agency_count(settings: Settings) -> int:
    engine = make_engine(settings)
    with Session(engine) as s:
        n = s.scalar(select(func.count()).select_from(Agency)) or 0
    engine.dispose()
    return n


def add_agency(code: str) -> None:
    result = runner.invoke(
        cli,
        ["agencies", "add", code, "--name", code, "--level", "municipal", "--area", "MX-08-037"],
    )
    assert result.exit_code == 0, result.output


def test_a_backup_restores_the_state_it_was_taken_in(cli_env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "node.backup"
    made = runner.invoke(cli, ["backup", str(path)])
    assert made.exit_code == 0, made.output
    before = agency_count(cli_env)
    add_agency("AFTER-BACKUP")
    assert agency_count(cli_env) == before + 1
    restored = runner.invoke(cli, ["restore", str(path)])
    assert restored.exit_code == 0, restored.output
    assert agency_count(cli_env) == before
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0


def tamper(path: Path) -> Path:
    """Return a copy of the backup with one byte of its payload changed."""
    with tarfile.open(path) as tar:
        manifest = tar.extractfile("manifest.json").read()  # type: ignore[union-attr]
        payload = bytearray(tar.extractfile("payload").read())  # type: ignore[union-attr]
    payload[len(payload) // 2] ^= 0xFF
    forged = path.with_name("forged.backup")
    with tarfile.open(forged, "w:gz") as tar:
        for name, data in (("manifest.json", manifest), ("payload", bytes(payload))):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return forged


def test_a_backup_whose_checksum_fails_is_refused_and_nothing_changes(
    cli_env: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "node.backup"
    assert runner.invoke(cli, ["backup", str(path)]).exit_code == 0
    add_agency("KEEP-ME")
    count = agency_count(cli_env)
    result = runner.invoke(cli, ["restore", str(tamper(path))])
    assert result.exit_code == 1
    assert "BAK-101" in result.output
    assert agency_count(cli_env) == count


def test_a_file_that_is_not_a_backup_is_refused(cli_env: Settings, tmp_path: Path) -> None:
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    result = runner.invoke(cli, ["restore", str(junk)])
    assert result.exit_code == 1 and "BAK-103" in result.output


# What SQLite says of the damage ``damage`` does: the cells it finds out of place, or,
# from one run to the next, only that the file is malformed.
SAID = "out of range|malformed"


def damage(settings: Settings) -> None:
    """Damage the SQLite file of ``settings`` as a failing disk would: overwrite the cell
    pointers of the users table's page (bytes inside a row's data would go unnoticed by
    any check of the file's structure: only a reader of that row would see them)."""
    path = make_url(settings.database_url).database
    assert path
    with closing(sqlite3.connect(path)) as connection:
        (page_size,) = connection.execute("PRAGMA page_size").fetchone()
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'users'"
        ).fetchone()
    with open(path, "r+b") as f:
        f.seek((page - 1) * page_size + 8)
        f.write(b"\xff" * 32)


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if is_postgres(database_url):
        pytest.skip("damages a SQLite file")


@pytest.mark.usefixtures("sqlite_only")
def test_a_damaged_database_is_refused_and_no_backup_is_written(
    cli_env: Settings, tmp_path: Path
) -> None:
    damage(cli_env)
    path = tmp_path / "node.backup"
    result = runner.invoke(cli, ["backup", str(path)])
    assert result.exit_code == 1
    assert "BAK-105" in result.output and re.search(SAID, result.output)
    assert not path.exists() and not list(tmp_path.glob("*.partial"))

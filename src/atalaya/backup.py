"""``atalaya backup`` and ``atalaya restore``: consistent snapshots with a checksum.

A backup is a tar file holding ``manifest.json`` (engine, time, schema revision,
SHA-256 and size of the payload) and ``payload``: an SQLite database copied with the
online backup API, or a ``pg_dump`` custom-format archive for PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from atalaya import __version__, integrity
from atalaya.errors import DomainError

CHUNK = 1 << 20


def backup(engine: Engine, path: Path) -> dict[str, object]:
    """Write a snapshot of the database behind ``engine`` to ``path``; return its manifest.

    Refuses (``BAK-105``) a database that fails its integrity check (``integrity``):
    a backup of a damaged file would be damaged too, and found out only when needed.
    """
    integrity.check(engine, "BAK-105")
    with tempfile.TemporaryDirectory() as tmp:
        payload = Path(tmp) / "payload"
        if engine.dialect.name == "sqlite":
            _sqlite_snapshot(engine, payload)
        else:
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--file={payload}",
                    _libpq_url(engine),
                ]
            )
        manifest: dict[str, object] = {
            "format": "atalaya-backup/1",
            "engine": engine.dialect.name,
            "created": dt.datetime.now(dt.UTC).isoformat(),
            "revision": _revision(engine),
            "atalaya": __version__,
            "sha256": _sha256(payload),
            "size": payload.stat().st_size,
        }
        _write_archive(path, manifest, payload)
    return manifest


def restore(engine: Engine, path: Path) -> dict[str, object]:
    """Replace the database behind ``engine`` with the snapshot at ``path``.

    Refuses (``BAK-103``) a file that is not a backup, (``BAK-101``) one whose payload
    does not match its checksum, and (``BAK-102``) one from the other engine. Nothing
    is changed when it refuses.
    """
    with tempfile.TemporaryDirectory() as tmp:
        manifest, payload = _read_archive(path, Path(tmp))
        if _sha256(payload) != manifest.get("sha256"):
            raise DomainError("BAK-101")
        if manifest.get("engine") != engine.dialect.name:
            raise DomainError(
                "BAK-102", params={"found": manifest.get("engine"), "expected": engine.dialect.name}
            )
        if engine.dialect.name == "sqlite":
            _sqlite_restore(engine, payload)
        else:
            _run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    f"--dbname={_libpq_url(engine)}",
                    str(payload),
                ]
            )
    return manifest


def _sqlite_snapshot(engine: Engine, target: Path) -> None:
    source = sqlite3.connect(_sqlite_path(engine))
    try:
        dest = sqlite3.connect(target)
        with dest:
            source.backup(dest)
        dest.close()
    finally:
        source.close()


def _sqlite_restore(engine: Engine, payload: Path) -> None:
    engine.dispose()
    source = sqlite3.connect(payload)
    try:
        dest = sqlite3.connect(_sqlite_path(engine))
        with dest:
            source.backup(dest)
        dest.close()
    finally:
        source.close()


def _sqlite_path(engine: Engine) -> str:
    database = engine.url.database
    if not database or database == ":memory:":
        raise DomainError("BAK-104", params={"problem": "an in-memory database has no backup"})
    return database


def _libpq_url(engine: Engine) -> str:
    url = make_url(engine.url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(command: list[str]) -> None:
    if shutil.which(command[0]) is None:
        raise DomainError("BAK-104", params={"problem": f"{command[0]} is not installed"})
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise DomainError("BAK-104", params={"problem": result.stderr.strip()[-500:]})


def _revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        try:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except (OperationalError, ProgrammingError):  # never migrated: no revision
            return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _write_archive(path: Path, manifest: dict[str, object], payload: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    with tarfile.open(partial, "w:gz") as tar:
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(payload, arcname="payload")
    partial.replace(path)


def _read_archive(path: Path, into: Path) -> tuple[dict[str, object], Path]:
    try:
        with tarfile.open(path, "r:*") as tar:
            names = set(tar.getnames())
            if names != {"manifest.json", "payload"}:
                raise DomainError("BAK-103")
            tar.extractall(into, filter="data")
        manifest = json.loads((into / "manifest.json").read_text())
    except (tarfile.TarError, json.JSONDecodeError, OSError, UnicodeDecodeError):
        raise DomainError("BAK-103") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "atalaya-backup/1":
        raise DomainError("BAK-103")
    return manifest, into / "payload"

"""Alembic migrations, run with ``atalaya db upgrade`` (batch mode: SQLite and PostgreSQL)."""

from __future__ import annotations

from alembic.config import Config
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    """Return an Alembic config that migrates through ``engine``."""
    config = Config()
    config.set_main_option("script_location", "atalaya:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)

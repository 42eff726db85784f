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


# What the models do not describe because it belongs to one engine: SQLite's full-text
# index of narratives (with its shadow tables) and PostgreSQL's. Autogenerate and the
# drift check leave them alone.
ENGINE_SPECIFIC_TABLES = ("incidents_fts",)
ENGINE_SPECIFIC_INDEXES = ("ix_incidents_narrative_search",)


def is_described_by_models(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic ``include_name`` hook: leave the engine-specific objects alone."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(ENGINE_SPECIFIC_TABLES)
    return not (type_ == "index" and name in ENGINE_SPECIFIC_INDEXES)

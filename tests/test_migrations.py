"""Migrations: they build exactly the schema the models describe, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from atalaya.db import Base
from atalaya.migrations import alembic_config, is_described_by_models
from atalaya.models import load_all
from atalaya.settings import Settings


def drift(engine: Engine) -> list[object]:
    load_all()
    with engine.connect() as connection:
        opts = {
            "compare_type": True,
            "render_as_batch": True,
            "include_name": is_described_by_models,
        }
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))


def test_models_and_migrations_do_not_drift(engine: Engine) -> None:
    assert drift(engine) == []


def test_migrations_go_down_and_up_again(fresh_database: Settings) -> None:
    from alembic import command

    from atalaya.db import make_engine

    engine = make_engine(fresh_database)
    config = alembic_config(engine)
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert drift(engine) == []
    engine.dispose()

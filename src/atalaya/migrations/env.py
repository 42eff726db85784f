"""Alembic environment: migrate the engine handed over by ``alembic_config``."""

from __future__ import annotations

from alembic import context

from atalaya.db import Base
from atalaya.migrations import is_described_by_models
from atalaya.models import load_all

load_all()
config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,
        compare_type=True,
        include_name=is_described_by_models,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

"""Alembic environment: runs on the connection generator.store.db.upgrade hands over (or the configured URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from generator.store.base import Base
from generator.store.db import load_models

load_models()
target_metadata = Base.metadata
config = context.config


def run(connection) -> None:  # type: ignore[no-untyped-def]
    # batch mode lets later migrations alter tables on SQLite (which cannot ALTER most things)
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, render_as_batch=True,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    given = config.attributes.get("connection")
    if given is not None:
        run(given)
    else:
        eng = create_engine(config.get_main_option("sqlalchemy.url"))
        with eng.begin() as connection:
            run(connection)
        eng.dispose()

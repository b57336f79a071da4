"""Alembic environment: migrates the engine handed over by app.core.db (no alembic.ini)."""

from __future__ import annotations

from alembic import context

from app.core.schema import include_object, metadata

config = context.config


def run_migrations() -> None:
    engine = config.attributes["engine"]
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()

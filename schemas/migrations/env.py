"""Alembic environment: runs tkitrack's migrations on the connection tkitrack hands it."""

from alembic import context
from sqlmodel import SQLModel

import tkitrack.schemas.audit
import tkitrack.schemas.dataqueries
import tkitrack.schemas.models
import tkitrack.schemas.recordstate
import tkitrack.schemas.users  # noqa: F401  (registers the record, audit, account, query and state tables)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        from tkitrack.schemas.storage import make_engine

        with make_engine().begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()

"""Developer entry point for writing a new migration: ``python -m tkitrack.schemas.migrate revision MESSAGE``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tkitrack.schemas.storage import _alembic_config, make_engine, upgrade

__all__ = ["autogenerate"]


def autogenerate(message: str) -> None:
    """Autogenerate a migration from the models against a scratch SQLite database at the current head."""
    from alembic import command

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'scratch.db'}")
        upgrade(engine)
        with engine.begin() as conn:
            command.revision(_alembic_config(conn), message=message, autogenerate=True)


if __name__ == "__main__":  # pragma: no cover
    if len(sys.argv) != 3 or sys.argv[1] != "revision":
        sys.exit("usage: python -m tkitrack.schemas.migrate revision MESSAGE")
    autogenerate(sys.argv[2])

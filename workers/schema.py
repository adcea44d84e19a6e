"""The database schema's migrations: the Alembic configuration every entry point upgrades with.

The ``backorders db`` commands, the demo, the test sessions and the benchmarks all call
``alembic_config`` from here, so none of them imports another entry point to reach it. Alembic's
``Config`` object and its ``attributes`` dictionary (how a caller hands ``migrations/env.py`` a
URL without touching ``alembic.ini``) are described at
https://alembic.sqlalchemy.org/en/latest/api/config.html
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config

REPO_ROOT = Path(__file__).resolve().parents[1]


def alembic_config(database_url: str | None = None) -> Config:
    """Alembic's configuration for this checkout's ``migrations/``, aimed at ``database_url`` when
    given (else at what ``migrations/env.py`` reads from the settings)."""
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(REPO_ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config

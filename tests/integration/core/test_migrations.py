"""Alembic builds the schema from an empty database and takes it down again; models match it."""
import secrets

import psycopg
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from domain.core.models import Base
from tests.conftest import _psycopg_url, _with_database
from workers.schema import alembic_config


def test_downgrade_base_then_upgrade_head(services: dict[str, str]) -> None:
    name = f"backorders_mig_{secrets.token_hex(3)}"
    admin = _psycopg_url(_with_database(services["server_url"], "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(services["server_url"], name)
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        config = alembic_config(url)
        config.attributes["configure_logging"] = False
        command.upgrade(config, "head")
        assert "backorders" in inspect(engine).get_table_names()
        command.downgrade(config, "base")
        assert inspect(engine).get_table_names() == ["alembic_version"]
        command.upgrade(config, "head")
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        engine.dispose()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

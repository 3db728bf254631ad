"""Engine, sessions and schema creation, on SQLite (the default) or PostgreSQL."""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from cds_service.storage.dialects import connection_setup, lock_schema
from cds_service.storage.models import Base

__all__ = ["Database"]

VERSION_TABLE = "alembic_version"
BASELINE_REVISION = "0001"
MIGRATIONS = str(Path(__file__).parent / "migrations")


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


class Database:
    """One engine per process; the schema is created on start."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: Engine = create_engine(url, pool_pre_ping=not self.is_sqlite)
        setup = connection_setup(parsed.get_backend_name())
        if setup is not None:
            event.listen(self.engine, "connect", setup)
        # gunicorn --preload forks after the app is built; children must not share connections.
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _dispose_in_child(this))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_schema(self) -> str:
        """Bring the schema to the newest migration; the revision it ends at.

        An empty database gets the tables from the models and is stamped at the newest
        revision (Alembic's advice for new databases). One made before migrations existed,
        with only ``feedback``, is stamped at 0001 and upgraded, so its rows are kept.
        Processes starting together take turns, so only the first changes the schema.
        """
        with self.engine.begin() as connection:
            lock_schema(connection)
            config = _alembic_config(connection)
            tables = set(inspect(connection).get_table_names())
            if VERSION_TABLE in tables:
                command.upgrade(config, "head")
            elif tables & set(Base.metadata.tables):
                command.stamp(config, BASELINE_REVISION)
                command.upgrade(config, "head")
            else:
                Base.metadata.create_all(connection)
                command.stamp(config, "head")
            return str(MigrationContext.configure(connection).get_current_revision())

    def session(self) -> Session:
        return self._sessions()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _dispose_in_child(ref: weakref.ref[Database]) -> None:
    db = ref()
    if db is not None:
        db.engine.dispose(close=False)

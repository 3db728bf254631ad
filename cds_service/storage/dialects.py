"""What differs between SQLite and PostgreSQL, in one place.

Inserts that skip stored rows (PostgreSQL aborts a transaction on a failed INSERT, so duplicates
are skipped by the database, not caught), the lock taken while migrating, each connection's
settings, and times read back (SQLite's are naive).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cds_service.storage.models import Base

__all__ = ["as_utc", "connection_setup", "insert_new", "lock_schema"]

SQLITE_BUSY_TIMEOUT_MS = 5000
# In WAL mode NORMAL syncs at checkpoints, not at every commit: the file cannot be corrupted,
# but a power cut (not a crash of the service) may undo the last commits
# (https://www.sqlite.org/pragma.html#pragma_synchronous). FULL made the jti and audit
# commits of every call cost more than the clinical rules (BENCHMARKS.md).
SQLITE_SYNCHRONOUS = "NORMAL"
SCHEMA_LOCK_KEY = 0x6B63_6473  # "kcds": PostgreSQL advisory lock held while the schema changes


def as_utc(moment: datetime) -> datetime:
    """A stored time as an aware UTC datetime: SQLite hands back naive ones, all in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def insert_new(
    executor: Session | Connection, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    """Insert the rows no unique constraint finds already stored; how many were inserted.

    Race-safe: a row another process inserts first is skipped, not an error, and the
    transaction stays usable (on PostgreSQL a failed INSERT aborts it). Concurrent callers
    should pass rows in one order (say, sorted by key) so that they cannot deadlock.
    """
    connection = executor.connection() if isinstance(executor, Session) else executor
    dialect = connection.dialect.name
    if dialect not in ("postgresql", "sqlite"):
        return _insert_one_by_one(connection, model, rows)
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    if not rows:
        return 0
    # The rows go as parameters, not .values(rows): a statement with its values built in is
    # compiled again on every call, and is bound by the databases' parameter limits. rowcount
    # of an INSERT is kept only on request (SQLAlchemy 2); for many rows it is the drivers'
    # sum over them.
    statement = upsert(model).on_conflict_do_nothing().execution_options(preserve_rowcount=True)
    return int(connection.execute(statement, [dict(row) for row in rows]).rowcount)


def _insert_one_by_one(
    executor: Session | Connection, model: type[Base], rows: Sequence[Mapping[str, Any]]
) -> int:
    connection = executor.connection() if isinstance(executor, Session) else executor
    inserted = 0
    for row in rows:
        try:
            with connection.begin_nested():
                connection.execute(insert(model).values(dict(row)))
            inserted += 1
        except IntegrityError:
            pass
    return inserted


def lock_schema(connection: Connection) -> None:
    """Hold the schema until this transaction ends: concurrent starts wait, then find it done."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock, waiting busy_timeout


def connection_setup(backend: str) -> Callable[[Any, Any], None] | None:
    """What to run on each new connection to ``backend`` (a "connect" listener), if anything."""
    return {"sqlite": _sqlite_pragmas, "postgresql": _postgresql_utc}.get(backend)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _sqlite_wal(cursor)
        cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    finally:
        cursor.close()


def _sqlite_wal(cursor: Any) -> None:
    """WAL mode, kept in the file once set. Switching a new file while another process opens it
    can fail as "database is locked" without waiting for busy_timeout, so that is retried."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _postgresql_utc(dbapi_connection: Any, _record: Any) -> None:
    """Sessions in UTC, so times read back and SQL date functions agree with SQLite's."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()

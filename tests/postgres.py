"""PostgreSQL for the storage tests: a throwaway schema per test.

Tests marked ``both_databases`` that use the ``database_url`` fixture (directly or through
``make_settings``/``make_app``) run twice, on SQLite and on PostgreSQL. The PostgreSQL run needs
a server whose SQLAlchemy URL is in ``KETAMINE_CDS_TEST_POSTGRES_URL``, with a role that may
create schemas in its database; CI starts one with ``.ci/postgres.sh``. Without it the PostgreSQL
runs are skipped, except in CI (``CI=true``), where they fail.

Each test gets an empty schema of its own, first on the search path of every connection made
with its URL, so the service sees an empty database. (A database per test is as isolated, but
CREATE DATABASE copies and syncs a template: ten times slower on a busy disk.)
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["BACKENDS", "ENV", "admin_engine", "server_url", "throwaway_schema"]

ENV = "KETAMINE_CDS_TEST_POSTGRES_URL"
# Read once at import: every test clears the KETAMINE_CDS_* variables (conftest.py).
_SERVER_URL = os.environ.get(ENV, "").strip()
HOW = (
    f"export {ENV}=$(sudo bash .ci/postgres.sh) to run them, or without root see "
    "docs/development.md, PostgreSQL tests without root"
)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def server_url() -> str:
    """The test server's URL; skips the test without one, or fails it in CI."""
    if _SERVER_URL:
        return _SERVER_URL
    if _in_ci():
        pytest.fail(
            f"{ENV} is not set, and CI must run the PostgreSQL storage tests: {HOW} "
            "(.ci/run does when PostgreSQL is installed)",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL storage tests skipped: {ENV} is not set; {HOW}")


def admin_engine(server: str) -> Engine:
    """Creates and drops the test schemas, on one connection kept for the whole run."""
    return create_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)


@contextmanager
def throwaway_schema(admin: Engine) -> Iterator[str]:
    """Create an empty schema, yield a URL whose connections use it, then drop it."""
    name = f"ktest_{secrets.token_hex(6)}"
    url = make_url(admin.url.render_as_string(hide_password=False))
    options = " ".join(filter(None, [url.query.get("options"), f"-c search_path={name}"]))
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield url.update_query_dict(
            {"options": options, "application_name": name}
        ).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            if _sessions(connection, name):
                gc.collect()  # a connection the test left open warns now, in this test
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": name},
                )
            connection.execute(text("SET lock_timeout = '10s'"))  # fail, never hang
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


def _sessions(connection: Connection, name: str) -> int:
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
    return int(connection.execute(text(query), {"name": name}).scalar_one())

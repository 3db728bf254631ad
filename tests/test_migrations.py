"""Schema migrations: new databases, databases from before migrations, and models in step."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from cds_service.storage import Database
from cds_service.storage.db import _alembic_config
from cds_service.storage.models import Base, FeedbackRecord

TABLES = {
    "feedback",
    "used_token_id",
    "audit",
    "issued_card",
    "smart_launch",
    "smart_session",
    "alembic_version",
}

pytestmark = pytest.mark.both_databases


def test_a_new_database_is_created_at_the_newest_revision(database_url) -> None:
    db = Database(database_url)
    assert db.create_schema() == "0003"
    assert set(inspect(db.engine).get_table_names()) == TABLES
    assert db.create_schema() == "0003"  # idempotent
    db.dispose()


def test_a_database_from_before_migrations_keeps_its_feedback(database_url) -> None:
    engine = create_engine(database_url)
    FeedbackRecord.__table__.create(engine)
    with engine.begin() as conn:
        conn.execute(
            FeedbackRecord.__table__.insert().values(
                service_id="ketamine-order-sign",
                card_uuid="9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11",
                outcome="overridden",
                outcome_timestamp="2026-03-02T10:06:00.000000Z",
                received_at=datetime(2026, 3, 2, tzinfo=UTC),
            )
        )
    engine.dispose()

    db = Database(database_url)
    assert db.create_schema() == "0003"
    assert set(inspect(db.engine).get_table_names()) == TABLES
    with db.session() as session:
        assert session.scalars(select(FeedbackRecord.card_uuid)).all() == [
            "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11"
        ]
    db.dispose()


def test_the_migrations_build_exactly_the_models_schema(database_url) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert differences == []
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), "base")
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 0
    engine.dispose()


def test_db_upgrade_command(tmp_path, database_url) -> None:
    env = {
        "KETAMINE_CDS_DATA_DIR": str(tmp_path),
        "KETAMINE_CDS_DATABASE_URL": database_url,
        "PATH": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cds_service.cli", "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "database schema is ready (revision 0003)"
    engine = create_engine(database_url)
    assert set(inspect(engine).get_table_names()) == TABLES
    engine.dispose()


def test_a_database_with_some_newer_tables_but_no_version_is_completed(database_url) -> None:
    """Builds between issues 5 and 6 created tables without recording a revision."""
    engine = create_engine(database_url)
    for name in ("feedback", "audit"):
        Base.metadata.tables[name].create(engine)
    engine.dispose()
    db = Database(database_url)
    assert db.create_schema() == "0003"
    assert set(inspect(db.engine).get_table_names()) == TABLES
    db.dispose()


def test_a_database_at_0002_gains_the_smart_tables_and_keeps_its_rows(database_url) -> None:
    engine = create_engine(database_url)
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "0002")
        conn.execute(
            FeedbackRecord.__table__.insert().values(
                service_id="ketamine-trd-patient-view",
                card_uuid="0c1f7f3e-5a7e-4f43-9d55-3c8e1c2b9a10",
                outcome="accepted",
                outcome_timestamp="2026-11-02T10:06:00.000000Z",
                received_at=datetime(2026, 11, 2, tzinfo=UTC),
            )
        )
    engine.dispose()
    db = Database(database_url)
    assert db.create_schema() == "0003"
    assert set(inspect(db.engine).get_table_names()) == TABLES
    with db.session() as session:
        assert session.scalars(select(FeedbackRecord.outcome)).all() == ["accepted"]
    db.dispose()

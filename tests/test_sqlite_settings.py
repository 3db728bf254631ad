"""Every SQLite connection is set up for several worker processes sharing one file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from cds_service.storage import Database
from cds_service.storage.dialects import SQLITE_BUSY_TIMEOUT_MS


def test_wal_busy_timeout_and_normal_sync_on_every_connection(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'cds.sqlite3'}")
    db.create_schema()
    try:
        with db.engine.connect() as connection:
            pragma = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "synchronous")
            }
    finally:
        db.dispose()

    assert pragma == {
        "journal_mode": "wal",
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "synchronous": 1,
    }

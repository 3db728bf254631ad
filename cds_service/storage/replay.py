"""Remember each accepted JWT ``jti`` so a captured token cannot be replayed (spec J-06).

The table is shared by every worker process; a row lives until its token would have expired
anyway. Expired rows are purged as new tokens arrive, at most once a minute per process, so
the purge is not paid on every call. The insert is race-safe: of two
workers offered the same token at once, exactly one accepts it.
"""

from __future__ import annotations

import time
import weakref
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from cds_service.storage.db import Database
from cds_service.storage.dialects import insert_new
from cds_service.storage.models import UsedTokenId

__all__ = ["remember_jti"]

MAX_JTI_LENGTH = 255
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
PURGE_INTERVAL_S = 60.0
_next_purge: weakref.WeakKeyDictionary[Database, float] = weakref.WeakKeyDictionary()


def remember_jti(db: Database, jti: str, issuer: str, expires: float, leeway_s: int) -> bool:
    """True the first time (issuer, jti) is seen; False for a replay. ValueError, naming why,
    for a jti or issuer the table cannot hold."""
    problem = _unstorable(jti, "jti") or _unstorable(issuer, "iss")
    if problem:
        raise ValueError(problem)
    now = datetime.now(UTC)
    try:
        keep_until = datetime.fromtimestamp(expires, UTC) + timedelta(seconds=leeway_s)
    except (OverflowError, OSError, ValueError):
        keep_until = FAR_FUTURE
    with db.engine.begin() as connection:  # Core: an ORM session costs more than the insert
        if time.monotonic() >= _next_purge.get(db, 0.0):
            connection.execute(delete(UsedTokenId).where(UsedTokenId.expires_at < now))
            _next_purge[db] = time.monotonic() + PURGE_INTERVAL_S
        row = {"issuer": issuer, "jti": jti, "expires_at": keep_until}
        return insert_new(connection, UsedTokenId, [row]) == 1


def _unstorable(value: str, name: str) -> str | None:
    """PostgreSQL enforces the column's length and refuses NUL in text; SQLite would not."""
    if not value:
        return f"{name} is empty"
    if len(value) > MAX_JTI_LENGTH:
        return f"{name} is longer than {MAX_JTI_LENGTH} characters"
    if "\x00" in value:
        return f"{name} holds a NUL character"
    return None

"""Remember each accepted JWT ``jti`` so a captured token cannot be replayed (spec J-06).

The table is shared by every worker process; a row lives until its token would have expired
anyway, and expired rows are purged as new tokens arrive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from cds_service.storage.db import Database
from cds_service.storage.models import UsedTokenId

__all__ = ["remember_jti"]

MAX_JTI_LENGTH = 255
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


def remember_jti(db: Database, jti: str, issuer: str, expires: float, leeway_s: int) -> bool:
    """True the first time (issuer, jti) is seen; False for a replay or an unstorable jti."""
    if not jti or len(jti) > MAX_JTI_LENGTH or len(issuer) > MAX_JTI_LENGTH:
        return False
    now = datetime.now(UTC)
    try:
        keep_until = datetime.fromtimestamp(expires, UTC) + timedelta(seconds=leeway_s)
    except (OverflowError, OSError, ValueError):
        keep_until = FAR_FUTURE
    with db.session() as session:
        session.execute(delete(UsedTokenId).where(UsedTokenId.expires_at < now))
        session.add(UsedTokenId(issuer=issuer, jti=jti, expires_at=keep_until))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
    return True

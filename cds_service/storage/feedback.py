"""Store feedback items idempotently: a repeat of (card, outcome, timestamp) is a no-op.

Race-safe on SQLite and PostgreSQL: the same item sent by two workers at once is stored once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cds_service.protocol.models import FeedbackItem
from cds_service.storage.db import Database
from cds_service.storage.dialects import insert_new
from cds_service.storage.models import FeedbackRecord

__all__ = ["FeedbackSummary", "record_feedback"]


@dataclass(frozen=True)
class FeedbackSummary:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def _timestamp_key(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _row(service_id: str, item: FeedbackItem, received_at: datetime) -> dict[str, Any]:
    override = item.overrideReason
    reason = override.reason if override else None
    return {
        "service_id": service_id,
        "card_uuid": item.card,
        "outcome": item.outcome,
        "outcome_timestamp": _timestamp_key(item.outcomeTimestamp),
        "accepted_suggestions": [s.id for s in item.acceptedSuggestions or []] or None,
        "override_system": reason.system if reason else None,
        "override_code": reason.code if reason else None,
        "override_display": reason.display if reason else None,
        "user_comment": override.userComment if override else None,
        "received_at": received_at,
    }


def record_feedback(db: Database, service_id: str, items: list[FeedbackItem]) -> FeedbackSummary:
    """Insert each new item; items already stored (or repeated in this batch) are skipped."""
    now = datetime.now(UTC)
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in items:
        row = _row(service_id, item, now)
        rows.setdefault((row["card_uuid"], row["outcome"], row["outcome_timestamp"]), row)
    with db.session() as session:
        # In key order, so that two requests inserting the same items cannot deadlock.
        stored = insert_new(session, FeedbackRecord, [rows[k] for k in sorted(rows)])
        session.commit()
    return FeedbackSummary(received=len(items), stored=stored)

"""Store feedback items idempotently: a repeat of (card, outcome, timestamp) is a no-op."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from cds_service.protocol.models import FeedbackItem
from cds_service.storage.db import Database
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


def record_feedback(db: Database, service_id: str, items: list[FeedbackItem]) -> FeedbackSummary:
    """Insert each new item; items already stored (or repeated in this batch) are skipped."""
    now = datetime.now(UTC)
    stored = 0
    seen: set[tuple[str, str, str]] = set()
    with db.session() as session:
        for item in items:
            key = (item.card, item.outcome, _timestamp_key(item.outcomeTimestamp))
            if key in seen:
                continue
            seen.add(key)
            exists = session.scalar(
                select(FeedbackRecord.id).where(
                    FeedbackRecord.card_uuid == key[0],
                    FeedbackRecord.outcome == key[1],
                    FeedbackRecord.outcome_timestamp == key[2],
                )
            )
            if exists is not None:
                continue
            reason = item.overrideReason.reason if item.overrideReason else None
            record = FeedbackRecord(
                service_id=service_id,
                card_uuid=key[0],
                outcome=key[1],
                outcome_timestamp=key[2],
                accepted_suggestions=[s.id for s in item.acceptedSuggestions or []] or None,
                override_system=reason.system if reason else None,
                override_code=reason.code if reason else None,
                override_display=reason.display if reason else None,
                user_comment=item.overrideReason.userComment if item.overrideReason else None,
                received_at=now,
            )
            try:
                with session.begin_nested():
                    session.add(record)
                stored += 1
            except IntegrityError:
                pass  # stored by a concurrent request between our check and insert
        session.commit()
    return FeedbackSummary(received=len(items), stored=stored)

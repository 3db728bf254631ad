"""What clinicians did with the cards: acceptance and override rates (issue 6, feedback-report).

Feedback is joined to the card as sent (``issued_card``) by uuid, so each outcome is counted
under the card's topic and decision. A card counts once, by its latest outcome, however many
times it was reported. ``since`` selects cards issued from then on, with all their feedback;
feedback on a card this service has no record of (sent before cards were recorded, or by
another deployment) is selected by when it arrived and counted under "(unknown card)".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from cds_service.storage.db import Database
from cds_service.storage.dialects import as_utc
from cds_service.storage.models import FeedbackRecord, IssuedCard

__all__ = ["ReportRow", "feedback_report"]

UNKNOWN = "(unknown card)"


@dataclass
class ReportRow:
    topic: str
    decision: str
    issued: int = 0
    accepted: int = 0
    overridden: int = 0
    override_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def answered(self) -> int:
        return self.accepted + self.overridden

    @property
    def acceptance_rate(self) -> float | None:
        return round(self.accepted / self.answered, 3) if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "acceptance_rate": self.acceptance_rate}


def feedback_report(db: Database, since: datetime | None = None) -> list[ReportRow]:
    """One row per (topic, decision), cards issued since ``since`` and their feedback."""
    rows: dict[tuple[str, str], ReportRow] = {}

    def row(topic: str | None, decision: str | None) -> ReportRow:
        key = (topic or "(no topic)", decision or "-")
        return rows.setdefault(key, ReportRow(*key))

    with db.session() as session:
        issued = select(IssuedCard.topic, IssuedCard.decision, func.count()).group_by(
            IssuedCard.topic, IssuedCard.decision
        )
        if since is not None:
            issued = issued.where(IssuedCard.at >= since)
        for topic, decision, count in session.execute(issued):
            row(topic, decision).issued = count

        outcomes = (
            select(
                FeedbackRecord.card_uuid,
                FeedbackRecord.outcome,
                FeedbackRecord.override_code,
                FeedbackRecord.outcome_timestamp,
                FeedbackRecord.received_at,
                IssuedCard.topic,
                IssuedCard.decision,
                IssuedCard.at,
            )
            .join_from(
                FeedbackRecord,
                IssuedCard,
                FeedbackRecord.card_uuid == IssuedCard.card_uuid,
                isouter=True,
            )
            .order_by(FeedbackRecord.id)  # of two outcomes at one instant, the first stored counts
        )
        latest: dict[str, Any] = {}
        for record in session.execute(outcomes):
            known = record.at is not None
            when = record.at if known else record.received_at
            if since is not None and as_utc(when) < since:
                continue
            current = latest.get(record.card_uuid)
            if current is None or record.outcome_timestamp > current.outcome_timestamp:
                latest[record.card_uuid] = record

    reasons: dict[tuple[str, str], Counter[str]] = {}
    for record in latest.values():
        known = record.at is not None
        target = row(record.topic if known else UNKNOWN, record.decision)
        if record.outcome == "accepted":
            target.accepted += 1
        else:
            target.overridden += 1
            reasons.setdefault((target.topic, target.decision), Counter())[
                record.override_code or "(no reason given)"
            ] += 1
    for key, counter in reasons.items():
        rows[key].override_reasons = dict(counter.most_common())
    return sorted(rows.values(), key=lambda r: (r.topic == UNKNOWN, r.topic, r.decision))

"""What clinicians did with the cards: acceptance and override rates (issue 6, feedback-report).

Feedback is joined to the card as sent (``issued_card``) by uuid, so each outcome is counted
under the card's topic and decision. Feedback on a card this service has no record of (sent
before cards were recorded, or by another deployment) is counted under topic "(unknown card)".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from cds_service.storage.db import Database
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

        outcomes = select(
            IssuedCard.topic,
            IssuedCard.decision,
            IssuedCard.card_uuid,
            FeedbackRecord.outcome,
            FeedbackRecord.override_code,
            FeedbackRecord.received_at,
        ).join_from(
            FeedbackRecord,
            IssuedCard,
            FeedbackRecord.card_uuid == IssuedCard.card_uuid,
            isouter=True,
        )
        if since is not None:
            outcomes = outcomes.where(FeedbackRecord.received_at >= since)
        reasons: dict[tuple[str, str], Counter[str]] = {}
        for topic, decision, known, outcome, reason, _ in session.execute(outcomes):
            target = row(topic if known else UNKNOWN, decision)
            if outcome == "accepted":
                target.accepted += 1
            else:
                target.overridden += 1
                reasons.setdefault((target.topic, target.decision), Counter())[
                    reason or "(no reason given)"
                ] += 1
    for key, counter in reasons.items():
        rows[key].override_reasons = dict(counter.most_common())
    return sorted(rows.values(), key=lambda r: (r.topic == UNKNOWN, r.topic, r.decision))

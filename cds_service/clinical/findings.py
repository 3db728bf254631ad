"""What rules return: reasons with their evidence. Codes: cards/codesystem.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.record.record import ConditionFact
from cds_service.record.terminology import Code

__all__ = ["Evidence", "Reason", "condition_evidence"]


@dataclass(frozen=True)
class Evidence:
    """One fact behind a reason: the resource, the code that matched, its date and value."""

    reference: str
    code: str | None = None
    date: date | None = None
    value: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"reference": self.reference}
        if self.code:
            out["code"] = self.code
        if self.date:
            out["date"] = self.date.isoformat()
        if self.value:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class Reason:
    code: str
    evidence: tuple[Evidence, ...] = field(default_factory=tuple)


def condition_evidence(condition: ConditionFact, code: Code) -> Evidence:
    return Evidence(
        reference=condition.reference,
        code=code.token(),
        date=condition.date,
        value=code.display or condition.name,
    )

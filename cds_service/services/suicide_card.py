"""The suicide-risk card (clinical-basis §5): critical when urgent, a warning when assessment is
due."""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import (
    evidence_line,
    extension,
    links,
    referral,
    source,
    summary_fit,
)
from cds_service.services.content import template, texts

__all__ = ["suicide_card"]


def suicide_card(assessment: Assessment, *, patient_id: str, today: date) -> Card | None:
    reason = assessment.suicide
    if reason is None:
        return None
    urgent = reason.code == "suicide-risk-urgent"
    evidence = evidence_line(reason)
    detail = template("suicide-risk.md.j2").render(
        display=reason_concept(reason.code)["display"], evidence=evidence, urgent=urgent
    )
    suggestion = referral(
        "suicide-risk-assessment",
        patient_id,
        today,
        reasons=[e.reference for e in reason.evidence],
        recommended=True,
    )
    return Card(
        summary=summary_fit(texts()["suicide"][reason.code].format(evidence=evidence[0])),
        detail=detail.strip(),
        indicator="critical" if urgent else "warning",
        source=source("suicide-risk"),
        suggestions=[suggestion],
        selectionBehavior="at-most-one",
        overrideReasons=override_reasons(),
        links=links("spravato-label"),
        extension=extension(assessment, [reason]),
    )

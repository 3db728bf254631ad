"""The suicide-risk card (clinical-basis §5): critical when urgent, a warning when assessment is
due. Its links are crisis resources; its override reasons fit a safety assessment."""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card, Link
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, links, referral, source, summary_fit
from cds_service.services.content import texts
from cds_service.services.detail import Detail, evidence_phrase

__all__ = ["suicide_card"]


def suicide_card(
    assessment: Assessment,
    *,
    patient_id: str,
    today: date,
    handouts: tuple[Link, ...] = (),
) -> Card | None:
    """``handouts``: on an order hook for ketamine or esketamine, that drug's handout."""
    reason = assessment.suicide
    if reason is None:
        return None
    words = texts()["suicide"]
    urgent = reason.code == "suicide-risk-urgent"
    evidence = [evidence_phrase(e) for e in reason.evidence]
    detail = Detail(
        do=words["do"][reason.code],
        why=["; ".join(evidence) + "."],
        notes=[words["note"]] if assessment.depressive_disorder else [],
        source=words["source"],
    )
    suggestion = referral(
        "suicide-risk-assessment",
        patient_id,
        today,
        reasons=[e.reference for e in reason.evidence],
        recommended=True,
    )
    return Card(
        summary=summary_fit(words["summary"][reason.code].format(evidence=evidence[0])),
        detail=detail.markdown(),
        indicator="critical" if urgent else "warning",
        source=source("suicide-risk"),
        suggestions=[suggestion],
        selectionBehavior="at-most-one",
        overrideReasons=override_reasons("suicide-risk"),
        links=links("lifeline-988", "c-ssrs", handouts=handouts),
        extension=extension(assessment, [reason]),
    )

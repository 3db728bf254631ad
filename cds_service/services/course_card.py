"""The ketamine-course card: where the patient is in the course and whether it is working."""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.protocol.models import Card
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, links, referral, source, summary_fit
from cds_service.services.content import md, template, texts

__all__ = ["course_card"]


def course_card(
    assessment: Assessment, settings: ClinicalSettings, *, patient_id: str, today: date
) -> Card | None:
    course = assessment.course
    if course is None:
        return None
    words = texts()["course"]
    codes = {r.code for r in course.reasons}
    phase = words["phases"][
        "induction-complete" if course.induction_complete else "induction-in-progress"
    ]
    if {"response", "remission"} <= codes:
        trend_key = "response+remission"
    else:
        trend_key = next(
            (k for k in ("response", "remission", "non-response") if k in codes),
            "open" if course.baseline and course.latest else "none",
        )
    trend = ""
    if course.baseline and course.latest:
        trend = (
            f"{course.baseline.value:g} on {course.baseline.when.isoformat()} (baseline) to "
            f"{course.latest.value:g} on {course.latest.when.isoformat()}: "
            f"{words['trend'][trend_key]}"
        )
    crowded = next((r for r in course.reasons if r.code == "off-protocol-frequency"), None)
    detail = template("ketamine-course.md.j2").render(
        drug=words["drugs"][course.drug],
        count=len(course.sessions),
        first=course.sessions[0].when.isoformat(),
        week=course.week,
        phase=phase,
        sessions=[{"when": s.when.isoformat(), "shown": md(s.shown)} for s in course.sessions],
        trend=trend,
        no_baseline=words["noBaseline"].format(days=settings.course_baseline_days),
        non_response=words["nonResponse"] if "non-response" in codes else "",
        off_protocol=words["offProtocol"].format(
            sessions=", ".join(e.date.isoformat() for e in crowded.evidence if e.date)
        )
        if crowded
        else "",
        next_due=course.next_due.isoformat() if course.next_due else "",
        schedule=words["schedule"][course.drug],
        monitoring=words["monitoring"],
    )
    summary = words["summary"].format(
        drug=words["drugs"][course.drug],
        count=len(course.sessions),
        first=course.sessions[0].when.isoformat(),
        phase=phase,
        trend=words["trend"][trend_key],
    )
    suggestions = (
        [referral("tms", patient_id, today), referral("ect", patient_id, today)]
        if "non-response" in codes
        else []
    )
    return Card(
        summary=summary_fit(summary),
        detail=detail.strip(),
        indicator="warning" if {"non-response", "off-protocol-frequency"} & codes else "info",
        source=source("ketamine-course"),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons(),
        links=links("spravato-label", "apa-consensus"),
        extension=extension(assessment, list(course.reasons)),
    )

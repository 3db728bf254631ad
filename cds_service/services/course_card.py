"""The ketamine-course card: where the patient is in the course and whether it is working.

While a course is under way and no hard stop applies, it replaces the eligibility card on every
hook (decision ``monitoring``), so it also lists the cautions that still apply.
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import DECISION_OF, Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.protocol.models import Card
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, links, source, summary_fit
from cds_service.services.content import md, template, texts
from cds_service.services.eligibility import alternatives, psychotic_depression, reason_view

__all__ = ["course_card"]

WARNING_CODES = {"non-response", "off-protocol-frequency", "session-overdue", "response-unmeasured"}


def course_card(
    assessment: Assessment, settings: ClinicalSettings, *, patient_id: str, today: date
) -> Card | None:
    course = assessment.course
    if course is None:
        return None
    words = texts()["course"]
    labels = texts()["phq9Labels"]
    codes = course.codes
    phase = words["phases"][
        "induction-complete" if course.induction_complete else "induction-in-progress"
    ]
    if {"response", "remission"} <= codes:
        trend_key = "response+remission"
    else:
        trend_key = next(
            (k for k in ("response", "remission", "non-response") if k in codes),
            "unmeasured"
            if "response-unmeasured" in codes
            else "open"
            if course.baseline and course.latest
            else "none",
        )
    trend = ""
    if course.baseline and not course.latest:
        trend = (
            words["noLatest"]
            .format(
                before_label=labels["before"],
                before=f"{course.baseline.value:g}",
                before_date=course.baseline.when.isoformat(),
            )
            .rstrip(".")
        )
    if course.baseline and course.latest:
        trend = words["trendLine"].format(
            before_label=labels["before"],
            before=f"{course.baseline.value:g}",
            before_date=course.baseline.when.isoformat(),
            latest_label=labels["latest"],
            latest=f"{course.latest.value:g}",
            latest_date=course.latest.when.isoformat(),
            trend=words["trend"][trend_key],
        )
    crowded = next((r for r in course.reasons if r.code == "off-protocol-frequency"), None)
    hard_stop = assessment.hard_stop  # the eligibility card beside this one says what and why
    non_response = ""
    if "non-response" in codes:
        non_response = words[
            "nonResponsePsychotic" if psychotic_depression(assessment) else "nonResponse"
        ]
    cautions = (
        [
            reason_view(r, assessment, settings)
            for r in assessment.reasons
            if DECISION_OF.get(r.code) == "candidate-caution" or r.code == "postpartum"
        ]
        if assessment.decision == "monitoring"
        else []
    )
    detail = template("ketamine-course.md.j2").render(
        drug=words["drugs"][course.drug],
        count=len(course.sessions),
        first=course.start.isoformat(),
        week=course.week(today),
        phase=phase,
        sessions=[{"when": s.when.isoformat(), "shown": md(s.shown)} for s in course.sessions],
        trend=trend,
        no_baseline=words["noBaseline"].format(days=settings.course_baseline_days),
        non_response=non_response,
        off_protocol=words["offProtocol"].format(
            sessions=", ".join(e.date.isoformat() for e in crowded.evidence if e.date)
        )
        if crowded
        else "",
        hard_stop=words["hardStop"] if hard_stop else "",
        unmeasured=words["responseUnmeasured"] if "response-unmeasured" in codes else "",
        overdue=words["overdue"].format(
            days=course.overdue_days,
            due=course.next_due.isoformat() if course.next_due else "",
        )
        if course.overdue_days and not hard_stop
        else "",
        next_due=course.next_due.isoformat() if course.next_due and not hard_stop else "",
        cautions=cautions,
        schedule=words["schedule"][course.drug],
        monitoring=words["monitoring"],
    )
    summary = words["summaryHardStop" if hard_stop else "summary"].format(
        drug=words["drugs"][course.drug],
        count=len(course.sessions),
        first=course.start.isoformat(),
        phase=phase,
        trend=words["trend"][trend_key],
    )
    if course.overdue_days and not hard_stop:
        summary = f"{summary}; next session {course.overdue_days} days overdue"
    # Under a hard stop the eligibility card beside this one offers the alternatives.
    offer = "non-response" in codes and not hard_stop
    suggestions = alternatives(assessment, patient_id, today) if offer else []
    shown_reasons = list(course.reasons)
    if assessment.decision == "monitoring":  # this card speaks for the eligibility card
        shown_reasons += [r for r in assessment.reasons if r.code not in codes]
    return Card(
        summary=summary_fit(summary),
        detail=detail.strip(),
        indicator="warning" if WARNING_CODES & codes or cautions or hard_stop else "info",
        source=source("ketamine-course"),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons(),
        links=links("spravato-label", "apa-consensus"),
        extension=extension(assessment, shown_reasons),
    )

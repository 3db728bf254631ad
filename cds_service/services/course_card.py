"""The ketamine-course card: where the patient is in the course, and the one thing to do next.

While a course is under way and no hard stop applies, it replaces the eligibility card on every
hook (decision ``monitoring``), so it also names the cautions that still apply. The do-sentence
is the most pressing of: a hard stop, non-response, sessions too close together, an unmeasured
response, an overdue session, no baseline PHQ-9; else "continue", with the next due date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_service.clinical.assessment import DECISION_OF, Assessment
from cds_service.clinical.course import Course
from cds_service.clinical.orders import DOSING_CHECKS
from cds_service.clinical.settings import ClinicalSettings
from cds_service.protocol.models import Card
from cds_service.services.alternatives import alternatives, psychotic_depression
from cds_service.services.codes import override_reasons
from cds_service.services.common import (
    capital,
    extension,
    handout,
    links,
    sentence_case,
    source,
    summary_fit,
    view_link,
)
from cds_service.services.content import texts
from cds_service.services.detail import Detail, day, short_day
from cds_service.services.reasons import display, reason_line

__all__ = ["course_card"]

WARNING_CODES = {"non-response", "off-protocol-frequency", "session-overdue", "response-unmeasured"}
# Checks of a draft order: its own cards say them, not the course's.
ORDER_REASONS = DOSING_CHECKS | {"oral-antidepressant-needed"}


def _trend_key(course: Course) -> str:
    codes = course.codes
    if {"response", "remission"} <= codes:
        return "response+remission"
    for key in ("response", "remission", "non-response"):
        if key in codes:
            return key
    if "response-unmeasured" in codes:
        return "unmeasured"
    return "open" if course.baseline and course.latest else "none"


def _trend(course: Course, trend: str) -> str:
    words = texts()["course"]
    if course.baseline and course.latest:
        return str(
            words["trendLine"].format(
                before=f"{course.baseline.value:g}",
                before_date=day(course.baseline.when),
                latest=f"{course.latest.value:g}",
                latest_date=day(course.latest.when),
                trend=words["trend"][trend],
            )
        )
    if course.baseline:
        return str(
            words["noLatest"].format(
                before=f"{course.baseline.value:g}", before_date=day(course.baseline.when)
            )
        )
    return ""


def _stop_reason(assessment: Assessment) -> str:
    deciding = [r for r in assessment.reasons if DECISION_OF.get(r.code) == assessment.decision]
    return sentence_case(display(deciding[0])) if deciding else ""


@dataclass(frozen=True)
class NextStep:
    """The most pressing thing to do (a key of cards/text.json "course" "do"), with its facts."""

    key: str
    reason: str = ""
    dates: tuple[date, ...] = ()
    days: int = 0
    due: date | None = None


def _next_step(assessment: Assessment, course: Course) -> NextStep:
    codes = course.codes
    if assessment.hard_stop:
        return NextStep("hardStop", reason=_stop_reason(assessment))
    if "non-response" in codes:
        psychotic = psychotic_depression(assessment)
        return NextStep("nonResponsePsychotic" if psychotic else "nonResponse")
    crowded = next((r for r in course.reasons if r.code == "off-protocol-frequency"), None)
    if crowded:
        return NextStep("offProtocol", dates=tuple(e.date for e in crowded.evidence if e.date))
    if "response-unmeasured" in codes:
        return NextStep("unmeasured")
    if course.overdue_days and course.next_due:
        return NextStep("overdue", days=course.overdue_days, due=course.next_due)
    if not course.baseline:
        return NextStep("noBaseline")
    if not course.next_due:
        return NextStep("continueNoDate")
    maintenance = course.drug == "ketamine" and course.induction_complete
    return NextStep("continueMaintenance" if maintenance else "continue", due=course.next_due)


def _do(step: NextStep, drug: str, settings: ClinicalSettings) -> str:
    pattern = texts()["course"]["do"][step.key]
    if isinstance(pattern, dict):  # the schedule differs by drug
        pattern = pattern[drug]
    return str(
        pattern.format(
            reason=step.reason,
            sessions=", ".join(day(d) for d in step.dates),
            days=step.days or settings.course_baseline_days,
            due=day(step.due) if step.due else "",
            esketamine_max=settings.esketamine_max_sessions_per_7_days,
            iv_max=settings.iv_first_week_max_sessions,
        )
    )


def course_card(
    assessment: Assessment,
    settings: ClinicalSettings,
    *,
    patient_id: str,
    today: date,
    base_url: str,
    view: bool = False,
) -> Card | None:
    course = assessment.course
    if course is None:
        return None
    words = texts()["course"]
    codes = course.codes
    phase = words["phases"][
        "induction-complete" if course.induction_complete else "induction-in-progress"
    ]
    trend = _trend_key(course)
    drug = words["drugs"][course.drug]
    hard_stop = assessment.hard_stop  # the eligibility card beside this one gives the evidence
    cautions = (
        [
            r
            for r in assessment.reasons
            if (DECISION_OF.get(r.code) == "candidate-caution" or r.code == "postpartum")
            and r.code not in ORDER_REASONS
        ]
        if assessment.decision == "monitoring"
        else []
    )
    step = _next_step(assessment, course)
    detail = Detail(
        do=_do(step, course.drug, settings),
        why=[
            words["sessions"].format(
                count=len(course.sessions),
                first=day(course.start),
                last=day(course.sessions[-1].when),
                week=course.week(today),
                phase=phase,
            ),
            _trend(course, trend),
            words["overdueLine"].format(days=course.overdue_days, due=day(course.next_due))
            if course.overdue_days and course.next_due and step.key not in ("overdue", "hardStop")
            else "",
        ],
        notes=[
            words["cautions"].format(reason=reason_line(r, assessment, settings)) for r in cautions
        ],
        source=words["source"][course.drug],
    )
    summary = words["summaries"][step.key].format(
        drug=drug,
        Drug=capital(drug),
        count=len(course.sessions),
        first=short_day(course.start, today),
        phase=phase,
        trend=words["trend"][trend],
        reason=step.reason,
        sessions=", ".join(short_day(d, today) for d in step.dates),
        days=step.days,
    )
    # Under a hard stop the eligibility card beside this one offers the alternatives.
    offer = "non-response" in codes and not hard_stop
    suggestions = alternatives(assessment, patient_id, today) if offer else []
    shown_reasons = list(course.reasons)
    if assessment.decision == "monitoring":  # this card speaks for the eligibility card
        shown_reasons += [r for r in assessment.reasons if r.code not in codes]
    reference = "spravato-label" if course.drug == "esketamine" else "apa-consensus"
    return Card(
        summary=summary_fit(summary),
        detail=detail.markdown(),
        indicator="warning" if WARNING_CODES & codes or cautions or hard_stop else "info",
        source=source("ketamine-course"),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons("ketamine-course"),
        links=links(
            reference,
            handouts=(handout(course.drug, base_url),),
            view=view_link(base_url) if view else None,
        ),
        extension=extension(assessment, shown_reasons),
    )

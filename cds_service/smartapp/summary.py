"""The view's course status and its list of what is missing, as facts from the assessment.

Nothing here judges anew: the course's verdicts are the engine's reasons, named as the cards
name them (``services.reasons.display``), and the counts are the TRD result's own.
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.services.common import capital, sentence_case
from cds_service.services.detail import day
from cds_service.services.reasons import display
from cds_service.services.trd_text import needed_items

__all__ = ["course_status", "missing"]

PROGRESS_CODES = {"induction-complete", "induction-in-progress"}  # the Induction row says so
DRUG_NAMES = {"esketamine": "Esketamine (Spravato), nasal", "ketamine": "Ketamine, IV"}
KEY_NAMES = {
    "patient": "The Patient resource",
    "conditions": "Conditions",
    "medicationRequests": "Medication orders",
    "medicationStatements": "Medication statements",
    "medicationAdministrations": "Medication administrations (sessions)",
    "observations": "PHQ-9, blood pressure, pregnancy and weight observations",
    "allergies": "Allergies",
    "procedures": "Procedures (ECT, TMS)",
}


def course_status(
    assessment: Assessment, settings: ClinicalSettings, today: date
) -> list[tuple[str, str]]:
    """Rows of (label, value) for the course under way; empty when there is none."""
    course = assessment.course
    if course is None:
        return []
    rows = [
        ("Drug", DRUG_NAMES.get(course.drug, course.drug)),
        (
            "Sessions so far",
            f"{len(course.sessions)}, from {day(course.start)} to {day(course.sessions[-1].when)}"
            f" (week {course.week(today)})",
        ),
        ("Induction", "complete" if course.induction_complete else "under way"),
    ]
    if course.baseline and course.baseline.value is not None:
        rows.append(("Baseline PHQ-9", f"{course.baseline.value:g} on {day(course.baseline.when)}"))
    else:
        rows.append(
            (
                "Baseline PHQ-9",
                f"none in the {settings.course_baseline_days} days before the first session",
            )
        )
    if course.latest and course.latest.value is not None:
        latest = f"{course.latest.value:g} on {day(course.latest.when)}"
        if course.baseline and course.baseline.value and course.latest.value is not None:
            change = (course.latest.value - course.baseline.value) / course.baseline.value
            direction = "lower" if change <= 0 else "higher"
            latest += f" ({abs(change):.0%} {direction} than baseline)"
        rows.append(("Latest PHQ-9", latest))
    verdicts = [display(r) for r in course.reasons if r.code not in PROGRESS_CODES]
    if verdicts:
        rows.append(
            ("Response and cautions", "; ".join([verdicts[0], *map(sentence_case, verdicts[1:])]))
        )
    if course.overdue_days and course.next_due:
        rows.append(
            (
                "Next session",
                f"overdue by {course.overdue_days} days (was due {day(course.next_due)})",
            )
        )
    elif course.next_due:
        rows.append(("Next session", f"due {day(course.next_due)}"))
    return rows


def missing(
    assessment: Assessment, gaps: dict[str, list[str]], settings: ClinicalSettings
) -> list[str]:
    """What the view could not read, then what the record still needs before the decision
    can be made, in the eligibility card's own words."""
    lines = [f"{KEY_NAMES.get(key, key)}: {'; '.join(notes)}." for key, notes in gaps.items()]
    lines += [capital(item) + "." for item in needed_items(assessment, settings)]
    course = assessment.course
    if course is not None and course.baseline is None:
        lines.append(
            f"No baseline PHQ-9 in the {settings.course_baseline_days} days before the first "
            "session, so response cannot be judged."
        )
    return lines

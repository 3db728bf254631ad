"""The view's course status and its list of what is missing, as facts from the assessment.

Nothing here judges anew: the course's verdicts are the engine's reasons, named as the cards
name them (``services.reasons.display``), and the counts are the TRD result's own. The words
are data, beside the cards' (``cards/text.json`` "view").
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.services.common import capital, sentence_case
from cds_service.services.content import texts
from cds_service.services.detail import day
from cds_service.services.reasons import display
from cds_service.services.trd_text import needed_items

__all__ = ["course_status", "missing"]

PROGRESS_CODES = {"induction-complete", "induction-in-progress"}  # the Induction row says so


def course_status(
    assessment: Assessment, settings: ClinicalSettings, today: date
) -> list[tuple[str, str]]:
    """Rows of (label, value) for the course under way; empty when there is none."""
    course = assessment.course
    if course is None:
        return []
    words = texts()["view"]
    label = words["rows"]
    rows = [
        (label["drug"], words["drugs"].get(course.drug, course.drug)),
        (
            label["sessions"],
            words["sessions"].format(
                count=len(course.sessions),
                first=day(course.start),
                last=day(course.sessions[-1].when),
                week=course.week(today),
            ),
        ),
        (
            label["induction"],
            words["induction"]["complete" if course.induction_complete else "underWay"],
        ),
    ]
    baseline, latest = course.baseline, course.latest
    if baseline and baseline.value is not None:
        rows.append(
            (
                label["baseline"],
                words["reading"].format(value=f"{baseline.value:g}", date=day(baseline.when)),
            )
        )
    else:
        rows.append(
            (label["baseline"], words["noBaseline"].format(days=settings.course_baseline_days))
        )
    if latest and latest.value is not None:
        shown = words["reading"].format(value=f"{latest.value:g}", date=day(latest.when))
        if baseline and baseline.value:
            change = (latest.value - baseline.value) / baseline.value
            shown = words["change"].format(
                value=f"{latest.value:g}",
                date=day(latest.when),
                percent=f"{abs(change):.0%}",
                direction=words["lower" if change <= 0 else "higher"],
            )
        rows.append((label["latest"], shown))
    verdicts = [display(r) for r in course.reasons if r.code not in PROGRESS_CODES]
    if verdicts:
        rows.append(
            (label["findings"], "; ".join([verdicts[0], *map(sentence_case, verdicts[1:])]))
        )
    if course.overdue_days and course.next_due:
        rows.append(
            (
                label["next"],
                words["overdue"].format(days=course.overdue_days, due=day(course.next_due)),
            )
        )
    elif course.next_due:
        rows.append((label["next"], words["due"].format(due=day(course.next_due))))
    return rows


def missing(
    assessment: Assessment, gaps: dict[str, list[str]], settings: ClinicalSettings
) -> list[str]:
    """What the view could not read, then what the record still needs before the decision
    can be made, in the eligibility card's own words."""
    words = texts()["view"]
    lines = [
        words["unread"].format(what=words["keys"].get(key, key), why="; ".join(notes))
        for key, notes in gaps.items()
    ]
    lines += [capital(item) + "." for item in needed_items(assessment, settings)]
    if assessment.course is not None and assessment.course.baseline is None:
        # the course card's own words for it
        lines.append(
            texts()["course"]["do"]["noBaseline"].format(days=settings.course_baseline_days)
        )
    return lines

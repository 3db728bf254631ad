"""What the view's timeline shows, taken from the assessment the cards are made from.

Nothing here decides anything: the trials, their counting and the course come from
``clinical.assess``, and the words for a trial's status are the cards' own
(``services.trd_text.trial_row``), so the view and the cards can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.trd import counts_toward_trd
from cds_service.services.trd_text import trial_row

__all__ = ["BpPoint", "Point", "Timeline", "TrialBar", "timeline"]


@dataclass(frozen=True)
class TrialBar:
    medication: str
    start: date
    end: date  # today while the trial is ongoing
    ongoing: bool
    daily_dose_mg: float | None
    counted: bool  # a failed adequate trial that counts toward TRD
    why: str  # the cards' words for its status


@dataclass(frozen=True)
class Point:
    when: date
    value: float


@dataclass(frozen=True)
class BpPoint:
    when: date
    systolic: float
    diastolic: float


@dataclass(frozen=True)
class Timeline:
    start: date
    end: date
    trials: tuple[TrialBar, ...]
    undated_trials: int  # trials without a start date: in the table, not on the time axis
    course_drug: str | None
    sessions: tuple[date, ...]
    phq9: tuple[Point, ...]
    remission_below: float
    response_at: float | None  # half the course's baseline PHQ-9, when there is one
    blood_pressures: tuple[BpPoint, ...]
    bp_lines: tuple[tuple[int, int], ...]  # (systolic, diastolic): caution, then defer


def timeline(assessment: Assessment, settings: ClinicalSettings) -> Timeline:
    """Usage: ``timeline(assess(record, terminology, settings), settings).phq9``"""
    record = assessment.record
    today = record.today
    trials = tuple(
        TrialBar(
            medication=trial.medication,
            start=trial.start,
            end=today if trial.ongoing or trial.end is None else trial.end,
            ongoing=trial.ongoing,
            daily_dose_mg=trial.daily_dose_mg,
            counted=counts_toward_trd(trial, settings),
            why=trial_row(trial, settings)[3],
        )
        for trial in assessment.trd.trials
        if trial.start is not None
    )
    course = assessment.course
    sessions = tuple(s.when for s in course.sessions) if course else ()
    phq9 = tuple(
        Point(r.when, r.value)
        for r in sorted(record.observations.phq9, key=lambda r: r.when)
        if r.value is not None
    )
    pressures = tuple(
        BpPoint(bp.when, bp.systolic, bp.diastolic)
        for bp in sorted(record.observations.blood_pressures, key=lambda bp: bp.when)
    )
    baseline = course.baseline.value if course and course.baseline else None
    dates = [
        *(t.start for t in trials),
        *sessions,
        *(p.when for p in phq9),
        *(p.when for p in pressures),
    ]
    return Timeline(
        start=min(dates, default=today),
        end=today,
        trials=trials,
        undated_trials=sum(1 for trial in assessment.trd.trials if trial.start is None),
        course_drug=course.drug if course else None,
        sessions=sessions,
        phq9=phq9,
        remission_below=settings.phq9_remission_below,
        response_at=baseline * (1 - settings.phq9_response_drop) if baseline else None,
        blood_pressures=pressures,
        bp_lines=(settings.bp_caution_above, settings.bp_defer_at),
    )

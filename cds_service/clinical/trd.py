"""Treatment-resistant depression: antidepressant trials, adequacy, verdict.

Sources: docs/clinical-basis.md §2 (FDA/EMA: at least two antidepressants of adequate dose and
duration in the current episode; EU-PEARL Rec 3, 10, 15; MGH-ATRQ minimum doses)
"TRD details".

When  a qualifying MDD diagnosis is active (bipolar in any status -> not-applicable)
Then  the current episode starts at the MDD Condition's onset, else its recorded date; when that
      is older than ``episode_lookback_months`` (or missing: missing-episode-onset), only trials
      within the lookback count
      per ingredient, exposures at or above the minimum daily dose join into one trial when
      gaps are at most ``trial_gap_days``; the same ingredient counts once (its longest trial)
      a trial of >= 42 days is adequate; < 28 days never counts; 28-41 completed days are
      indeterminate; an ongoing trial shorter than 42 days is in progress
      an adequate trial failed unless the record shows a response during it: PHQ-9 < 5, a
      >= 50 % drop from the baseline before it, or a statusReason of response or remission; an
      ongoing one failed when the latest PHQ-9 is >= 10
      augmenters count only when ``augmentation_counts_as_trial`` is on
      ketamine and esketamine are never antidepressant trials
Verdict met: >= 2 failed trials and the latest PHQ-9 (within 30 days) >= 10
        not-met: fewer failed trials even counting every uncertain one, or PHQ-9 < 10
        (5-9 partial response, < 5 remission)
        indeterminate: the verdict depends on missing data (missing-phq9, missing-trial-data,
        trial-duration-indeterminate) or no qualifying MDD diagnosis (no-qualifying-mdd)
        not-applicable: bipolar disorder, or no depressive disorder on record at all
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.phq9 import latest_phq9, phq9_band
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.trials import Trial, build_trial, counts_as_antidepressant, is_uncertain
from cds_service.record.medications import MedicationExposure
from cds_service.record.observations import Reading
from cds_service.record.record import ConditionFact, PatientRecord
from cds_service.record.terminology import Code, Terminology

__all__ = ["Episode", "TrdResult", "assess_trd", "counts_toward_trd"]


@dataclass(frozen=True)
class Episode:
    start: date
    source: str  # onset | recorded | lookback
    capped: bool  # the recorded start was older than the lookback window
    condition: ConditionFact | None


@dataclass(frozen=True)
class TrdResult:
    status: str  # met | not-met | indeterminate | not-applicable
    trials: tuple[Trial, ...]
    failed: int
    required: int
    episode: Episode | None
    phq9: Reading | None  # the latest, or during a course the latest before it
    phq9_state: str  # persisting | partial-response | remission | missing
    mdd: tuple[tuple[ConditionFact, Code], ...]
    remission_only: bool
    reasons: tuple[Reason, ...]


def counts_toward_trd(trial: Trial, settings: ClinicalSettings) -> bool:
    """A failed adequate trial that counts: an augmenting drug counts only when the site's
    settings say so (docs/clinical-basis.md, augmentation)."""
    return trial.status == "adequate-failed" and (
        not trial.augmenter or settings.augmentation_counts_as_trial
    )


def _episode(
    record: PatientRecord, mdd: list[tuple[ConditionFact, Code]], settings: ClinicalSettings
) -> Episode:
    floor = _months_before(record.today, settings.episode_lookback_months)
    # The onset dates the episode; a recorded date stands in only when no active MDD Condition
    # states an onset, so re-entering or re-coding a problem-list item does not restart it.
    dated = [(c.onset, c) for c, _ in mdd if c.onset] or [
        (c.recorded, c) for c, _ in mdd if c.recorded
    ]
    if not dated:
        return Episode(floor, "lookback", False, mdd[0][0] if mdd else None)
    start, condition = max(dated, key=lambda pair: pair[0])
    source = "onset" if condition.onset else "recorded"
    if start < floor:
        return Episode(floor, source, True, condition)
    return Episode(start, source, False, condition)


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, 28))


def assess_trd(
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    course_start: date | None = None,
) -> TrdResult:
    """The TRD verdict, with every antidepressant trial and why it counted or not.

    During a ketamine/esketamine course (``course_start``) the verdict reads the latest PHQ-9
    within the window before the first session (the depression being treated), never one the
    treatment itself has lowered; with none, the PHQ-9 is missing.
    """
    phq9 = latest_phq9(record, settings, before=course_start)
    phq9_state = phq9_band(phq9, settings)
    required = settings.failed_trials_required
    if record.conditions_in(terminology.valueset("bipolar-disorder")):
        return TrdResult("not-applicable", (), 0, required, None, phq9, phq9_state, (), False, ())

    remission_set = terminology.valueset("depressive-disorder-in-remission")
    all_mdd = record.conditions_in(terminology.valueset("major-depressive-disorder"))
    mdd = [(c, code) for c, code in all_mdd if c.active and not remission_set.match(c.codes)]
    reasons: list[Reason] = []
    if not mdd:
        in_remission = bool(record.conditions_in(remission_set) or all_mdd)
        other = record.conditions_in(
            terminology.valueset("other-depressive-disorder"), active_only=True
        )
        if other:
            reasons.append(
                Reason("no-qualifying-mdd", tuple(condition_evidence(c, code) for c, code in other))
            )
            status = "indeterminate"
        elif in_remission:  # MDD coded in remission, or no longer active
            status = "not-met"
        else:  # no depressive disorder on record at all
            status = "not-applicable"
        return TrdResult(
            status,
            (),
            0,
            required,
            None,
            phq9,
            phq9_state,
            (),
            in_remission and not other,
            tuple(reasons),
        )

    episode = _episode(record, mdd, settings)
    if episode.source == "lookback":
        reasons.append(
            Reason("missing-episode-onset", tuple(condition_evidence(c, code) for c, code in mdd))
        )

    groups: dict[str, list[MedicationExposure]] = {}
    for exposure in record.medications:
        for ingredient in exposure.ingredients:
            info = terminology.ingredients.get(ingredient)
            if (
                info
                and {"antidepressant", "augmenter"} & info.groups
                and counts_as_antidepressant(exposure, ingredient)
            ):
                groups.setdefault(ingredient, []).append(exposure)
    trials = tuple(
        sorted(
            (
                build_trial(name, exps, record, terminology, settings, episode.start)
                for name, exps in groups.items()
            ),
            key=lambda t: (t.start or record.today, t.ingredient),
        )
    )
    counted = [t for t in trials if not t.augmenter or settings.augmentation_counts_as_trial]
    failed = sum(1 for t in counted if counts_toward_trd(t, settings))
    uncertain = [t for t in counted if is_uncertain(t, settings)]
    short = [t for t in counted if t.status == "indeterminate" and not is_uncertain(t, settings)]

    if phq9_state in ("remission", "partial-response"):
        status = "not-met"
    elif failed >= required:
        status = "met" if phq9_state == "persisting" else "indeterminate"
    elif failed + len(uncertain) + len(short) >= required:
        status = "indeterminate"
    else:
        status = "not-met"

    if status == "indeterminate" and failed < required:
        if uncertain:
            reasons.append(
                Reason(
                    "missing-trial-data",
                    tuple(Evidence(t.reference, None, t.start, t.medication) for t in uncertain),
                )
            )
        if short:
            reasons.append(
                Reason(
                    "trial-duration-indeterminate",
                    tuple(
                        Evidence(
                            t.reference, None, t.start, f"{t.ingredient} ({t.days} days on record)"
                        )
                        for t in short
                    ),
                )
            )
    if phq9_state == "missing" and status == "indeterminate":
        reasons.append(Reason("missing-phq9"))
    return TrdResult(
        status,
        trials,
        failed,
        required,
        episode,
        phq9,
        phq9_state,
        tuple(mdd),
        False,
        tuple(reasons),
    )

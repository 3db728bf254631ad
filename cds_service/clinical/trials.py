"""One antidepressant trial per ingredient: dose adequacy, duration, and response.

Sources: docs/clinical-basis.md §2.2 (adequacy), §2.3 (minimum doses).

Exposures at or above the minimum daily dose join into one trial when gaps are at most
``trial_gap_days``; the longest run is the ingredient's trial. A trial of at least
``trial_min_days`` is adequate; one under ``trial_never_counts_below_days`` never counts; a
completed one in between is indeterminate; an ongoing shorter one is in progress. An adequate
trial failed unless the record shows a response during it: a PHQ-9 in remission (which outranks
any text), a statusReason of response (negated wording such as "no response" is a failure), or
a drop from the baseline PHQ-9 of ``phq9_response_drop``. A stopped order with no recorded end
is of unknown duration, bounded by its planned end; it keeps a short run uncertain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.clinical.phq9 import latest_phq9, phq9_band
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.medications import MedicationExposure
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology

__all__ = ["Trial", "build_trial", "counts_as_antidepressant", "is_uncertain"]

# Failure wording is checked first, so "no response" or "partial response" never reads as one.
_FAILURE_TEXT = re.compile(
    r"lack of (efficacy|effect|response)|ineffective|not effective(?! for)|"
    r"\b(no|not|poor|minimal|partial|inadequate|insufficient|limited)\b[\w\s-]{0,20}"
    r"(response|respond|improve)|non-?respon|treatment failure|"
    r"failed (to (respond|improve|help)|trial|treatment|therapy)",
    re.I,
)
_RESPONSE_TEXT = re.compile(
    r"\bremission\b|\bremitted\b|\bresponded\b|(?<!allergic )(?<!adverse )\bresponse\b|"
    r"\bimproved\b",
    re.I,
)
TRANSDERMAL_ROUTE = "45890007"  # SNOMED CT: transdermal route


@dataclass(frozen=True)
class Trial:
    ingredient: str
    medication: str
    reference: str
    daily_dose_mg: float | None
    minimum_dose_mg: float | None
    start: date | None
    end: date | None
    ongoing: bool
    days: int | None
    status: str
    augmenter: bool
    matched_by_name: bool

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "medication": self.ingredient,
            "reference": self.reference,
            "status": self.status,
        }
        if self.daily_dose_mg is not None:
            out["dailyDoseMg"] = self.daily_dose_mg
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end and not self.ongoing:
            out["end"] = self.end.isoformat()
        if self.days is not None:
            out["days"] = self.days
        if self.augmenter:
            out["augmentation"] = True
        return out


def _end(exposure: MedicationExposure, today: date) -> date | None:
    """The last day on the drug as of today (a recorded end in the future counts as today)."""
    if exposure.ongoing:
        return today
    return min(exposure.end, today) if exposure.end else None


def _runs(
    exposures: list[MedicationExposure], today: date, gap: int
) -> list[list[MedicationExposure]]:
    """Join exposures whose gaps are at most ``gap`` days into continuous runs."""
    dated = sorted(
        (e for e in exposures if e.start and _end(e, today)), key=lambda e: e.start or today
    )
    runs: list[list[MedicationExposure]] = []
    run_end: date | None = None
    for exposure in dated:
        start, end = exposure.start, _end(exposure, today)
        assert start is not None and end is not None
        if runs and run_end is not None and (start - run_end).days <= gap:
            runs[-1].append(exposure)
            run_end = max(run_end, end)
        else:
            runs.append([exposure])
            run_end = end
    return runs


def _responded(
    run: list[MedicationExposure],
    start: date,
    end: date,
    record: PatientRecord,
    settings: ClinicalSettings,
) -> bool:
    during = [r for r in record.observations.phq9 if start <= r.when <= end and r.value is not None]
    if any(r.value is not None and r.value < settings.phq9_remission_below for r in during):
        return True  # a measured remission outranks any free-text reason
    for exposure in run:
        reason = exposure.status_reason or ""
        if _FAILURE_TEXT.search(reason):
            return False
        if _RESPONSE_TEXT.search(reason):
            return True
    baseline_from = start - timedelta(days=settings.phq9_baseline_days)
    before = [r for r in record.observations.phq9 if baseline_from <= r.when <= start and r.value]
    if before and during:
        baseline = before[-1].value or 0
        target = baseline * (1 - settings.phq9_response_drop)
        return any(r.value is not None and r.value <= target for r in during)
    return False


def counts_as_antidepressant(exposure: MedicationExposure, ingredient: str) -> bool:
    """Selegiline is an antidepressant only as the transdermal system (clinical-basis §2.3)."""
    if ingredient != "selegiline":
        return True
    strength = exposure.recognition.strengths.get("selegiline")
    if strength and strength[1] == "MG/HR":
        return True
    if any(code.code == TRANSDERMAL_ROUTE for code in exposure.route):
        return True
    described = " ".join(
        filter(
            None,
            [exposure.name, exposure.route_text, *(c.display for c in exposure.codes if c.display)],
        )
    )
    return bool(re.search(r"transdermal|patch|\bemsam\b", described, re.I))


def build_trial(
    ingredient: str,
    exposures: list[MedicationExposure],
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    episode_start: date,
) -> Trial:
    today = record.today
    info = terminology.ingredients[ingredient]
    minimum = info.min_adequate_daily_mg
    augmenter = "augmenter" in info.groups and "antidepressant" not in info.groups
    by_name = all(e.recognition.by_name for e in exposures)

    def dose(e: MedicationExposure) -> float | None:
        return e.daily_dose(ingredient)

    def make(status: str, chosen: list[MedicationExposure], daily: float | None = None) -> Trial:
        first = chosen[0]
        starts = [e.start for e in chosen if e.start]
        ends = [end for e in chosen if (end := _end(e, today))]
        start = min(starts) if starts else None
        end = max(ends) if ends else None
        ongoing = any(e.ongoing for e in chosen)
        if start and end and end < start:  # starts in the future: nothing taken yet
            end = start
        days = (end - start).days if start and end else None
        return Trial(
            ingredient,
            first.name,
            first.reference,
            daily,
            minimum,
            start,
            end,
            ongoing,
            days,
            status,
            augmenter,
            by_name,
        )

    def latest(e: MedicationExposure) -> date | None:
        """The latest day the exposure can have lasted to: its end, else its planned end."""
        return _end(e, today) or (min(e.end_bound, today) if e.end_bound else None)

    def provably_short(e: MedicationExposure) -> bool:
        bound = latest(e)
        return bool(
            e.start and bound and (bound - e.start).days < settings.trial_never_counts_below_days
        )

    def known_low(e: MedicationExposure) -> bool:
        d = dose(e)
        return d is not None and minimum is not None and d < minimum

    in_episode = [
        e
        for e in exposures
        if e.start is None or e.ongoing or (latest(e) or today) >= episode_start
    ]
    # Exposures whose end is unknown but that could still make an adequate trial.
    plausible = [
        e for e in in_episode if not e.duration_known and not known_low(e) and not provably_short(e)
    ]
    if not in_episode:
        return make("outside-episode", exposures)
    adequate = [
        e
        for e in in_episode
        if (d := dose(e)) is not None and minimum is not None and d >= minimum and e.duration_known
    ]
    runs = _runs(adequate, today, settings.trial_gap_days)
    if runs:
        run = max(
            runs,
            key=lambda r: (
                max(_end(e, today) or today for e in r) - min(e.start or today for e in r)
            ),
        )
        trial = make("adequate", run, max(dose(e) or 0 for e in run))
        days = trial.days or 0
        if days >= settings.trial_min_days:
            if trial.ongoing:
                state = phq9_band(latest_phq9(record, settings), settings)
                status = {"persisting": "adequate-failed", "missing": "indeterminate"}.get(
                    state, "adequate-responded"
                )
            else:
                assert trial.start and trial.end
                responded = _responded(run, trial.start, trial.end, record, settings)
                status = "adequate-responded" if responded else "adequate-failed"
        elif trial.ongoing:
            status = "in-progress"
        elif plausible:  # a stopped order of unknown length may have extended this run
            return make("unknown-duration", run + plausible, trial.daily_dose_mg)
        elif days < settings.trial_never_counts_below_days:
            status = "too-short"
        else:
            status = "indeterminate"
        return _with_status(trial, status)
    if plausible:
        return make("unknown-duration", plausible, dose(plausible[0]))
    unknown_dose = [
        e for e in in_episode if (dose(e) is None or minimum is None) and e.duration_known
    ]
    if unknown_dose:
        longest = max(unknown_dose, key=lambda e: e.days(today) or 0)
        days = longest.days(today) or 0
        if longest.ongoing and days < settings.trial_min_days:
            return make("in-progress", [longest], dose(longest))
        if days < settings.trial_never_counts_below_days:
            return make("too-short", [longest], dose(longest))
        return make("indeterminate", [longest], dose(longest))
    strongest = max(in_episode, key=lambda e: dose(e) or 0)
    return make("subtherapeutic-dose", [strongest], dose(strongest))


def _with_status(trial: Trial, status: str) -> Trial:
    return Trial(
        trial.ingredient,
        trial.medication,
        trial.reference,
        trial.daily_dose_mg,
        trial.minimum_dose_mg,
        trial.start,
        trial.end,
        trial.ongoing,
        trial.days,
        status,
        trial.augmenter,
        trial.matched_by_name,
    )


def is_uncertain(trial: Trial, settings: ClinicalSettings) -> bool:
    """A trial that could still prove to be an adequate failure, given the missing data."""
    if trial.status == "unknown-duration":
        return True
    return trial.status == "indeterminate" and (trial.days or 0) >= settings.trial_min_days

"""Treatment-resistant depression: antidepressant trials, adequacy, verdict.

Sources: clinical.md A1 (FDA/EMA: at least two antidepressants of adequate dose and duration in
the current episode; EU-PEARL Rec 3, 10, 15), A1.1 (minimum doses, configurable), design.md §7
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

import re
from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.medications import MedicationExposure
from cds_service.record.observations import Reading
from cds_service.record.record import ConditionFact, PatientRecord
from cds_service.record.terminology import ICD10CM, Code, Terminology

__all__ = ["Episode", "TrdResult", "Trial", "assess_trd", "latest_phq9"]

# Failure wording is checked first, so "no response" or "partial response" never reads as one.
_FAILURE_TEXT = re.compile(
    r"lack of (efficacy|effect|response)|ineffective|not effective|"
    r"\b(no|not|poor|minimal|partial|inadequate|insufficient|limited)\b[\w\s-]{0,20}"
    r"(response|respond|improve)|non-?respon|treatment failure|failed",
    re.I,
)
_RESPONSE_TEXT = re.compile(
    r"\bremission\b|\bremitted\b|\bresponded\b|(?<!allergic )(?<!adverse )\bresponse\b|"
    r"\bimproved\b",
    re.I,
)
TRANSDERMAL_ROUTE = "45890007"  # SNOMED CT: transdermal route


@dataclass(frozen=True)
class Episode:
    start: date
    source: str  # onset | recorded | lookback
    capped: bool  # the recorded start was older than the lookback window
    condition: ConditionFact | None


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
        return out


@dataclass(frozen=True)
class TrdResult:
    status: str  # met | not-met | indeterminate | not-applicable
    trials: tuple[Trial, ...]
    failed: int
    required: int
    episode: Episode | None
    phq9: Reading | None
    phq9_state: str  # persisting | partial-response | remission | missing
    mdd: tuple[tuple[ConditionFact, Code], ...]
    remission_only: bool
    reasons: tuple[Reason, ...]


def latest_phq9(record: PatientRecord, settings: ClinicalSettings) -> Reading | None:
    since = record.today - timedelta(days=settings.phq9_window_days)
    recent = [r for r in record.observations.phq9 if since <= r.when <= record.today]
    return recent[-1] if recent else None


def _phq9_state(reading: Reading | None, settings: ClinicalSettings) -> str:
    if reading is None or reading.value is None:
        return "missing"
    if reading.value >= settings.phq9_persisting_at:
        return "persisting"
    if reading.value < settings.phq9_remission_below:
        return "remission"
    return "partial-response"


def _episode(
    record: PatientRecord, mdd: list[tuple[ConditionFact, Code]], settings: ClinicalSettings
) -> Episode:
    floor = _months_before(record.today, settings.episode_lookback_months)
    # A Condition's onset dates the episode; a recorded date stands in only for a diagnosis
    # that no dated Condition shares, so re-entering a problem-list item does not restart it.
    onset_codes = {_diagnosis_key(code) for c, _ in mdd if c.onset for code in c.codes}
    dated = [(c.onset, c) for c, _ in mdd if c.onset] + [
        (c.recorded, c)
        for c, _ in mdd
        if not c.onset and c.recorded and not {_diagnosis_key(k) for k in c.codes} & onset_codes
    ]
    if not dated:
        return Episode(floor, "lookback", False, mdd[0][0] if mdd else None)
    start, condition = max(dated, key=lambda pair: pair[0])
    source = "onset" if condition.onset else "recorded"
    if start < floor:
        return Episode(floor, source, True, condition)
    return Episode(start, source, False, condition)


def _diagnosis_key(code: Code) -> str:
    """ICD-10-CM by category (F33.1 and F33.2 are one disorder re-coded); others exactly."""
    if code.system == ICD10CM:
        return f"{ICD10CM}|{code.code[:3].upper()}"
    return code.token()


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, 28))


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


def _counts_as_antidepressant(exposure: MedicationExposure, ingredient: str) -> bool:
    """Selegiline is an antidepressant only as the transdermal system (clinical.md A1.1)."""
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


def _trial(
    ingredient: str,
    exposures: list[MedicationExposure],
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    episode: Episode,
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
        if e.start is None or e.ongoing or (latest(e) or today) >= episode.start
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
                state = _phq9_state(latest_phq9(record, settings), settings)
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


def _uncertain(trial: Trial, settings: ClinicalSettings) -> bool:
    """A trial that could still prove to be an adequate failure, given the missing data."""
    if trial.status == "unknown-duration":
        return True
    return trial.status == "indeterminate" and (trial.days or 0) >= settings.trial_min_days


def assess_trd(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> TrdResult:
    """The TRD verdict, with every antidepressant trial and why it counted or not."""
    phq9 = latest_phq9(record, settings)
    phq9_state = _phq9_state(phq9, settings)
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
                and _counts_as_antidepressant(exposure, ingredient)
            ):
                groups.setdefault(ingredient, []).append(exposure)
    trials = tuple(
        sorted(
            (
                _trial(name, exps, record, terminology, settings, episode)
                for name, exps in groups.items()
            ),
            key=lambda t: (t.start or record.today, t.ingredient),
        )
    )
    counted = [t for t in trials if not t.augmenter or settings.augmentation_counts_as_trial]
    failed = sum(1 for t in counted if t.status == "adequate-failed")
    uncertain = [t for t in counted if _uncertain(t, settings)]
    short = [t for t in counted if t.status == "indeterminate" and not _uncertain(t, settings)]

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
                        Evidence(t.reference, None, t.start, f"{t.ingredient} {t.days} days")
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

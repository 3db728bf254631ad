"""The words about TRD on a card: the trials table's rows, the episode, the latest PHQ-9 and BP,
and what is still needed before TRD can be judged (docs/clinical-basis.md §2)."""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.trd import Episode, counts_toward_trd
from cds_service.clinical.trials import Trial
from cds_service.clinical.vitals import latest_blood_pressure
from cds_service.services.content import md, texts
from cds_service.services.detail import day

__all__ = ["measures", "needed_items", "phq9_label", "still_needed", "trd_line", "trial_row"]


def phq9_label(assessment: Assessment) -> str:
    labels = texts()["phq9Labels"]
    return str(labels["before"] if assessment.course else labels["latest"])


def trial_row(trial: Trial, settings: ClinicalSettings) -> list[str]:
    """Medication, daily dose, dates and whether it counts toward TRD, in the cards' words."""
    statuses, notes = texts()["trialStatus"], texts()["trialNotes"]
    status = statuses[trial.status].format(
        never=settings.trial_never_counts_below_days, minimum=settings.trial_min_days
    )
    if trial.status == "subtherapeutic-dose" and trial.minimum_dose_mg is not None:
        status += notes["minimumDose"].format(dose=f"{trial.minimum_dose_mg:g}")
    if trial.status == "indeterminate":
        if trial.minimum_dose_mg is None:
            status += notes["noAdequateDose"]
        elif trial.daily_dose_mg is None:
            status += notes["doseNotRecorded"]
        elif trial.ongoing:
            status += notes["ongoingNoPhq9"]
        else:
            status += notes["tooShort"].format(days=trial.days, minimum=settings.trial_min_days)
    name = md(trial.medication) + (notes["matchedByName"] if trial.matched_by_name else "")
    if trial.augmenter:
        name += notes["augmentation"]
        if trial.status == "adequate-failed" and not counts_toward_trd(trial, settings):
            status = statuses["augmenter"]
    start = day(trial.start) if trial.start else notes["unknown"]
    end = notes["ongoing"] if trial.ongoing else (day(trial.end) if trial.end else notes["unknown"])
    days = notes["days"].format(days=trial.days) if trial.days is not None else ""
    dose = f"{trial.daily_dose_mg:g} mg" if trial.daily_dose_mg is not None else notes["unknown"]
    return [name, dose, notes["dates"].format(start=start, end=end, days=days), status]


def _episode(episode: Episode, settings: ClinicalSettings) -> str:
    words = texts()["eligibility"]["episode"]
    kind = (
        "lookback" if episode.source == "lookback" else "capped" if episode.capped else "recorded"
    )
    return str(words[kind].format(date=day(episode.start), months=settings.episode_lookback_months))


def still_needed(assessment: Assessment, settings: ClinicalSettings) -> str:
    """What the record still needs before the decision can be made, as one sentence."""
    items = needed_items(assessment, settings)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}."
    return "; ".join(items) + ("." if items else "")


def needed_items(assessment: Assessment, settings: ClinicalSettings) -> list[str]:
    """Each thing the record still needs, in the cards' words (``cards/text.json``)."""
    needed = texts()["eligibility"]["needed"]
    items: list[str] = []
    trd = assessment.trd
    if trd.status == "not-met" and trd.failed < trd.required:
        items.append(
            needed["more-trials"].format(
                count=trd.required - trd.failed,
                trials="trial" if trd.required - trd.failed == 1 else "trials",
                minimum=settings.trial_min_days,
            )
        )
    if trd.status == "not-met" and trd.failed >= trd.required:
        items.append(needed["persisting-phq9"].format(days=settings.phq9_window_days))
    for reason in assessment.reasons:
        if reason.code == "bp-missing":
            items.append(needed[reason.code].format(days=settings.bp_window_days))
        elif reason.code == "missing-phq9":
            key = "missing-phq9-before-course" if assessment.course else "missing-phq9"
            items.append(needed[key].format(days=settings.phq9_window_days))
        elif reason.code in ("missing-trial-data", "trial-duration-indeterminate"):
            names = ", ".join(sorted({md(e.value or e.reference) for e in reason.evidence}))
            items.append(needed[reason.code].format(names=names, minimum=settings.trial_min_days))
        elif reason.code == "no-qualifying-mdd":
            items.append(needed[reason.code])
    return items


def measures(assessment: Assessment, settings: ClinicalSettings) -> str:
    words = texts()["eligibility"]
    trd = assessment.trd
    state = texts()["phq9"][
        "missing-before-course"
        if assessment.course and trd.phq9_state == "missing"
        else trd.phq9_state
    ].format(days=settings.phq9_window_days)
    phq9 = (
        f"{trd.phq9.value:g} on {day(trd.phq9.when)}, {state}"
        if trd.phq9 and trd.phq9.value is not None
        else state
    )
    bp = latest_blood_pressure(assessment.record, settings)
    shown_bp = (
        f"{bp.shown()} on {day(bp.when)}"
        if bp
        else words["noBp"].format(days=settings.bp_window_days)
    )
    pattern = words["measuresCourse" if assessment.course else "measures"]
    return str(pattern.format(phq9=phq9, bp=shown_bp))


def trd_line(assessment: Assessment, settings: ClinicalSettings, *, quiet: bool) -> str:
    """The TRD verdict in one line: trials counted, since when, and the latest PHQ-9 and BP; on
    the short not-trd card (``quiet``) the PHQ-9 alone, with its date."""
    words = texts()["eligibility"]
    trd = assessment.trd
    fields = {
        "failed": trd.failed,
        "required": trd.required,
        "trials": "trial" if trd.failed == 1 else "trials",
    }
    if trd.episode is None:
        line = words["trdNoEpisode"].format(**fields)
    else:
        episode = day(trd.episode.start) if quiet else _episode(trd.episode, settings)
        line = words["trd"].format(episode=episode, **fields)
    if not quiet:
        line += " " + measures(assessment, settings)
    elif (
        trd.phq9_state in ("partial-response", "remission")
        and trd.phq9
        and trd.phq9.value is not None
    ):
        # the reading the not-TRD verdict rests on
        line += " " + words["quietPhq9"].format(
            value=f"{trd.phq9.value:g}", date=day(trd.phq9.when)
        )
    return str(line)

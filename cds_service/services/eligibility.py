"""The ketamine-eligibility card: the decision, its evidence, the trials, what is missing.

During a course with no hard stop the course card speaks instead (services/course_card.py).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from cds_service.clinical.assessment import BLOCKING, DECISION_OF, Assessment
from cds_service.clinical.findings import Reason
from cds_service.clinical.orders import intravenous, latest_weight
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.trials import Trial
from cds_service.clinical.vitals import latest_blood_pressure
from cds_service.protocol.models import Action, Card, Suggestion
from cds_service.record.orders import DraftOrder
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import (
    evidence_line,
    extension,
    links,
    referral,
    sentence_case,
    source,
    summary_fit,
)
from cds_service.services.content import md, template, texts

__all__ = [
    "alternatives",
    "eligibility_card",
    "indicator_for",
    "psychotic_depression",
    "reason_view",
]

Indicator = Literal["info", "warning", "critical"]

# Order-side reasons whose steps the order-checklist card gives (services/checklist_card.py).
CHECKLIST_ONLY = ("rems-requirements", "off-label-consent")
UNLISTED = (*CHECKLIST_ONLY, "missing-episode-onset")  # the episode line says it


def indicator_for(assessment: Assessment, *, order_hook: bool) -> Indicator:
    """The indicator for the decision (docs/integration.md §3)."""
    decision = assessment.decision
    if decision == "contraindicated":
        return "critical"
    if decision in {"defer", "not-recommended", "not-indicated", "candidate-caution"}:
        return "warning"
    if order_hook and decision in {"not-trd", "indeterminate"}:
        return "warning"
    return "info"


def _deciding(assessment: Assessment) -> list[Reason]:
    return [r for r in assessment.reasons if DECISION_OF.get(r.code) == assessment.decision]


def _summary(assessment: Assessment) -> str:
    trd = assessment.trd
    decision_texts = texts()["decisions"][assessment.decision]
    deciding = _deciding(assessment)
    reason = (
        ", ".join(reason_concept(r.code)["display"] for r in deciding[:2])
        or texts()["trd"][trd.status]
    )
    indication = assessment.reason("indication-suicidal-ideation") is not None
    if assessment.course is not None and "summaryCourse" in decision_texts:
        summary = decision_texts["summaryCourse"].format(reason=sentence_case(reason))
    elif indication and "summaryIndication" in decision_texts:
        summary = decision_texts["summaryIndication"].format(reason=sentence_case(reason))
    elif assessment.decision == "not-trd" and trd.failed >= trd.required and trd.phq9:
        summary = decision_texts["summaryPhq9"].format(
            label=_phq9_label(assessment),
            score=f"{trd.phq9.value:g}",
            state=texts()["phq9Short"].get(trd.phq9_state, ""),
        )
    else:
        summary = decision_texts["summary"].format(
            reason=sentence_case(reason),
            failed=trd.failed,
            required=trd.required,
        )
    return summary_fit(summary)


def _phq9_label(assessment: Assessment) -> str:
    labels = texts()["phq9Labels"]
    return str(labels["before"] if assessment.course else labels["latest"])


def _action(reason: Reason, assessment: Assessment, settings: ClinicalSettings) -> str:
    """What to do about one reason, with its source (cards/text.json "reasonActions")."""
    if reason.code == "age-65-plus":
        return str(texts()["olderAdult"][settings.starting_dose_jurisdiction])
    if reason.code == "postpartum" and assessment.reason("lactation"):
        return ""  # the lactation advice covers it
    return str(texts()["reasonActions"].get(reason.code, ""))


def reason_view(
    reason: Reason, assessment: Assessment, settings: ClinicalSettings
) -> dict[str, object]:
    notes = texts()["reasonNotes"]
    codes = {e.code.split("|")[-1] for e in reason.evidence if e.code}
    note = " ".join(
        [notes[c] for c in sorted(codes) if c in notes] + [_action(reason, assessment, settings)]
    )
    return {
        "display": reason_concept(reason.code)["display"],
        "evidence": evidence_line(reason),
        "note": note.strip(),
    }


def _trial_row(trial: Trial, settings: ClinicalSettings) -> dict[str, str]:
    status = texts()["trialStatus"][trial.status].format(
        never=settings.trial_never_counts_below_days, minimum=settings.trial_min_days
    )
    if trial.status == "subtherapeutic-dose" and trial.minimum_dose_mg is not None:
        status += f" ({trial.minimum_dose_mg:g} mg/day)"
    if trial.status == "indeterminate":
        if trial.minimum_dose_mg is None:
            status += ": no minimum adequate dose on file for this drug"
        elif trial.daily_dose_mg is None:
            status += ": dose not recorded"
        elif trial.ongoing:
            status += ": ongoing, no recent PHQ-9"
        else:
            status += f": {trial.days} days, {settings.trial_min_days} needed"
    name = md(trial.medication) + (" (matched by name)" if trial.matched_by_name else "")
    if trial.augmenter:
        name += " (augmentation)"
        if not settings.augmentation_counts_as_trial and trial.status == "adequate-failed":
            status = texts()["augmenterNotCounted"]
    return {
        "medication": name,
        "dose": f"{trial.daily_dose_mg:g} mg" if trial.daily_dose_mg is not None else "unknown",
        "start": trial.start.isoformat() if trial.start else "unknown",
        "end": "ongoing" if trial.ongoing else (trial.end.isoformat() if trial.end else "unknown"),
        "days": str(trial.days) if trial.days is not None else "unknown",
        "status": status,
    }


def _episode_text(assessment: Assessment, settings: ClinicalSettings) -> str:
    episode = assessment.trd.episode
    if episode is None:
        return "no current episode on record"
    months = settings.episode_lookback_months
    if episode.source == "lookback":
        return f"{episode.start.isoformat()}: a {months}-month lookback, as no onset is recorded"
    if episode.capped:
        return (
            f"{episode.start.isoformat()}: a {months}-month lookback, as the recorded "
            "episode start is older"
        )
    if episode.condition is None:
        return episode.start.isoformat()
    return f"{episode.start.isoformat()}, the {episode.source} date of {md(episode.condition.name)}"


def _still_needed(assessment: Assessment, settings: ClinicalSettings) -> str:
    needed = texts()["stillNeeded"]
    items: list[str] = []
    trd = assessment.trd
    if trd.status == "not-met" and trd.failed < trd.required:
        items.append(
            needed["more-trials"].format(
                count=trd.required - trd.failed, minimum=settings.trial_min_days
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
    return "; ".join(items) + ("." if items else "")


def psychotic_depression(assessment: Assessment) -> bool:
    """MDD with psychotic features: ECT, or an antidepressant with an antipsychotic, come
    first, and TMS is not offered (docs/clinical-basis.md §10)."""
    return assessment.reason("psychotic-features") is not None


def alternatives(assessment: Assessment, patient_id: str, today: date) -> list[Suggestion]:
    """TMS and ECT referrals that fit the patient, each with this patient's cautions."""
    mdd_refs = [c.reference for c, _ in assessment.trd.mdd]
    kinds = ["ect"] if psychotic_depression(assessment) else ["tms", "ect"]
    return [
        referral(kind, patient_id, today, reasons=mdd_refs, note=_cautions(assessment, kind))
        for kind in kinds
    ]


def _suggestions(
    assessment: Assessment, patient_id: str, today: date, order: DraftOrder | None
) -> list[Suggestion]:
    decision = assessment.decision
    trd_met = assessment.trd.status == "met"
    mdd_refs = [c.reference for c, _ in assessment.trd.mdd]
    if order is not None:  # the order is being placed: offer to remove it, and alternatives
        out = []
        if decision == "contraindicated" and order.reference:
            label = texts()["deleteLabel"].format(drug=_order_label(order))
            out.append(
                Suggestion(
                    label=label,
                    isRecommended=True,
                    actions=[Action(type="delete", description=label, resourceId=order.reference)],
                )
            )
        if decision in BLOCKING - {"not-indicated"}:
            out += alternatives(assessment, patient_id, today)
        return out
    if decision in ("candidate", "candidate-caution"):
        return [
            referral("ketamine-evaluation", patient_id, today, reasons=mdd_refs, recommended=True),
            *alternatives(assessment, patient_id, today),
        ]
    if trd_met and decision in BLOCKING - {"not-indicated"}:
        return alternatives(assessment, patient_id, today)
    return []


def _order_label(order: DraftOrder | None) -> str:
    if order is None:
        return ""
    kind = "ketamine-iv" if order.kind == "ketamine" and intravenous(order) else order.kind
    return str(texts()["orderLabels"].get(kind, "Ketamine order"))


def _order_lines(
    assessment: Assessment, order: DraftOrder, settings: ClinicalSettings
) -> list[str]:
    """The order's own checks: the mg/kg dose for IV ketamine, and how it was recognised."""
    lines = texts()["orderLines"]
    out = []
    if order.kind in ("ketamine", "ketamine-infusion"):
        weight = latest_weight(assessment.record, settings)
        low, high = settings.ketamine_dose_band_mg_per_kg
        if order.dose_mg_per_kg is not None:
            out.append(
                lines["perKg"].format(
                    per_kg=f"{order.dose_mg_per_kg:g}", low=f"{low:g}", high=f"{high:g}"
                )
            )
        elif order.dose_mg is None:
            out.append(lines["noDose"])
        elif weight is None or not weight.value:
            out.append(lines["noWeight"].format(days=settings.weight_window_days))
        else:
            out.append(
                lines["dose"].format(
                    dose=f"{order.dose_mg:g}",
                    weight=f"{weight.value:g}",
                    date=weight.when.isoformat(),
                    per_kg=f"{order.dose_mg / weight.value:.2f}",
                    low=f"{low:g}",
                    high=f"{high:g}",
                )
            )
    if order.matched_by_name:
        out.append(lines["byName"])
    return out


def _cautions(assessment: Assessment, therapy: str) -> str | None:
    """This patient's cautions for an alternative (docs/clinical-basis.md §10), as one note."""
    cautions = texts()["referralCautions"]
    notes = [
        cautions[r.code][therapy] for r in assessment.reasons if therapy in cautions.get(r.code, {})
    ]
    return " ".join(dict.fromkeys(notes)) or None


def eligibility_card(
    assessment: Assessment,
    settings: ClinicalSettings,
    *,
    patient_id: str,
    today: date,
    order: DraftOrder | None = None,
) -> Card:
    order_hook = order is not None
    decision = assessment.decision
    trd = assessment.trd
    gated = decision == "not-trd"
    # On a gated card the contraindications are hypothetical, but a severe BP is urgent now.
    urgent = [r for r in assessment.reasons if r.code == "bp-hypertensive-crisis"]
    shown = urgent if gated else [r for r in assessment.reasons if r.code not in UNLISTED]
    would_apply = (
        [r for r in assessment.reasons if DECISION_OF.get(r.code) in BLOCKING and r not in urgent]
        if gated
        else []
    )
    bp = latest_blood_pressure(assessment.record, settings)
    phq9_state = texts()["phq9"][
        "missing-before-course"
        if assessment.course and trd.phq9_state == "missing"
        else trd.phq9_state
    ].format(days=settings.phq9_window_days)
    phq9_label = _phq9_label(assessment)
    phq9 = (
        f"{trd.phq9.value:g} on {trd.phq9.when.isoformat()} ({phq9_state})"
        if trd.phq9 and trd.phq9.value is not None
        else phq9_state
    )
    psychotic = psychotic_depression(assessment)
    words = texts()["alternatives"]
    alternative_lines = (
        [words["psychotic"], words["ect"]] if psychotic else [words["tms"], words["ect"]]
    )
    cautions = [
        c
        for c in (
            _cautions(assessment, "ect"),
            None if psychotic else _cautions(assessment, "tms"),
        )
        if c
    ]
    detail = template("ketamine-eligibility.md.j2").render(
        decision_display=texts()["decisions"][decision][
            "displayCourse"
            if assessment.course and "displayCourse" in texts()["decisions"][decision]
            else "display"
        ],
        trd_sentence=texts()["trd"][trd.status],
        gate_note=texts()["gate"]["not-trd"] if would_apply else "",
        reasons=[reason_view(r, assessment, settings) for r in shown],
        would_apply=[reason_view(r, assessment, settings) for r in would_apply],
        episode=_episode_text(assessment, settings),
        failed=trd.failed,
        required=trd.required,
        trials=[_trial_row(t, settings) for t in trd.trials],
        phq9_label=phq9_label[0].upper() + phq9_label[1:],
        phq9=phq9,
        bp=f"{bp.shown()} on {bp.when.isoformat()}"
        if bp
        else f"none in the last {settings.bp_window_days} days",
        still_needed=_still_needed(assessment, settings),
        order_name=md(order.name) if order else "",
        order_lines=_order_lines(assessment, order, settings) if order else [],
        show_alternatives=trd.status == "met" or order_hook,
        alternatives_heading=words["headingPsychotic" if psychotic else "heading"],
        alternatives=alternative_lines,
        alternative_cautions=cautions,
    )
    suggestions = _suggestions(assessment, patient_id, today, order)
    summary = _summary(assessment)
    return Card(
        summary=summary_fit(f"{_order_label(order)}: {summary}") if order else summary,
        detail=detail.strip(),
        indicator=indicator_for(assessment, order_hook=order_hook),
        source=source("ketamine-eligibility"),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons(),
        links=links("spravato-label", "apa-consensus", "eu-pearl-trd"),
        extension=extension(
            assessment,
            [r for r in assessment.reasons if r.code not in CHECKLIST_ONLY],
            trials=True,
        ),
    )

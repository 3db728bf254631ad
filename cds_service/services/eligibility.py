"""The ketamine-eligibility card: the decision, its evidence, the trials, what is missing."""

from __future__ import annotations

from datetime import date
from typing import Literal

from cds_service.clinical.assessment import DECISION_OF, Assessment
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
    source,
    summary_fit,
)
from cds_service.services.content import md, template, texts

__all__ = ["eligibility_card", "indicator_for"]

Indicator = Literal["info", "warning", "critical"]

BLOCKING = {"contraindicated", "not-indicated", "not-recommended", "defer"}
VASCULAR = (
    "aneurysmal-vascular-disease",
    "arteriovenous-malformation",
    "intracerebral-hemorrhage-history",
)


def indicator_for(assessment: Assessment, *, order_hook: bool) -> Indicator:
    """design.md §7 "Indicators"."""
    decision = assessment.decision
    if decision == "contraindicated" or assessment.reason("bp-hypertensive-crisis"):
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
    if assessment.decision == "not-trd" and trd.failed >= trd.required and trd.phq9:
        summary = decision_texts["summaryPhq9"].format(
            score=f"{trd.phq9.value:g}", state=texts()["phq9Short"].get(trd.phq9_state, "")
        )
    else:
        summary = decision_texts["summary"].format(
            reason=reason, failed=trd.failed, required=trd.required
        )
    crisis = assessment.reason("bp-hypertensive-crisis")
    if crisis and assessment.decision not in ("defer", "contraindicated"):
        shown = crisis.evidence[0].value if crisis.evidence else "latest reading"
        summary = texts()["crisisSummary"].format(bp=shown, summary=summary)
    return summary_fit(summary)


def _reason_view(reason: Reason) -> dict[str, object]:
    notes = texts()["codeNotes"]
    codes = {e.code.split("|")[-1] for e in reason.evidence if e.code}
    return {
        "display": reason_concept(reason.code)["display"],
        "evidence": evidence_line(reason),
        "note": " ".join(notes[c] for c in sorted(codes) if c in notes),
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
        if reason.code in ("bp-missing", "missing-phq9"):
            days = (
                settings.bp_window_days
                if reason.code == "bp-missing"
                else settings.phq9_window_days
            )
            items.append(needed[reason.code].format(days=days))
        elif reason.code in ("missing-trial-data", "trial-duration-indeterminate"):
            names = ", ".join(sorted({md(e.value or e.reference) for e in reason.evidence}))
            items.append(needed[reason.code].format(names=names, minimum=settings.trial_min_days))
        elif reason.code == "no-qualifying-mdd":
            items.append(needed[reason.code])
    return "; ".join(items) + ("." if items else "")


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
            out += [
                referral(
                    "tms", patient_id, today, reasons=mdd_refs, note=_cautions(assessment, "tms")
                ),
                referral(
                    "ect", patient_id, today, reasons=mdd_refs, note=_cautions(assessment, "ect")
                ),
            ]
        return out
    if decision in ("candidate", "candidate-caution"):
        return [
            referral("ketamine-evaluation", patient_id, today, reasons=mdd_refs, recommended=True),
            referral("tms", patient_id, today, reasons=mdd_refs),
            referral("ect", patient_id, today, reasons=mdd_refs),
        ]
    if trd_met and decision in BLOCKING - {"not-indicated"}:
        return [
            referral(
                "tms",
                patient_id,
                today,
                reasons=mdd_refs,
                note=_cautions(assessment, "tms"),
            ),
            referral(
                "ect",
                patient_id,
                today,
                reasons=mdd_refs,
                note=_cautions(assessment, "ect"),
            ),
        ]
    return []


def _order_label(order: DraftOrder | None) -> str:
    if order is None:
        return ""
    kind = "ketamine" if order.kind == "ketamine" and intravenous(order) else order.kind
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


def _cautions(assessment: Assessment, therapy: str, exclude: tuple[str, ...] = ()) -> str | None:
    """This patient's cautions for an alternative (clinical.md A6), as one note."""
    cautions = texts()["referralCautions"]
    notes = [
        cautions[r.code][therapy]
        for r in assessment.reasons
        if therapy in cautions.get(r.code, {}) and r.code not in exclude
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
    urgent = [r for r in assessment.reasons if r.code == "bp-hypertensive-crisis"]
    # On a gated card the contraindications are hypothetical, but a crisis is urgent now.
    shown = (
        urgent if gated else [r for r in assessment.reasons if r.code != "missing-episode-onset"]
    )
    would_apply = (
        [r for r in assessment.reasons if DECISION_OF.get(r.code) in BLOCKING and r not in urgent]
        if gated
        else []
    )
    vascular_names = [
        reason_concept(r.code)["display"].lower() for r in assessment.reasons if r.code in VASCULAR
    ]
    vascular = " and ".join(vascular_names) or None
    bp = latest_blood_pressure(assessment.record, settings)
    phq9_state = texts()["phq9"][trd.phq9_state].format(days=settings.phq9_window_days)
    phq9 = (
        f"{trd.phq9.value:g} on {trd.phq9.when.isoformat()} ({phq9_state})"
        if trd.phq9 and trd.phq9.value is not None
        else phq9_state
    )
    detail = template("ketamine-eligibility.md.j2").render(
        decision_display=texts()["decisions"][decision]["display"],
        trd_sentence=texts()["trd"][trd.status],
        gate_note=texts()["gate"]["not-trd"] if would_apply else "",
        reasons=[_reason_view(r) for r in shown],
        would_apply=[_reason_view(r) for r in would_apply],
        episode=_episode_text(assessment, settings),
        failed=trd.failed,
        required=trd.required,
        trials=[_trial_row(t, settings) for t in trd.trials],
        phq9=phq9,
        bp=f"{bp.shown()} on {bp.when.isoformat()}"
        if bp
        else f"none in the last {settings.bp_window_days} days",
        still_needed=_still_needed(assessment, settings),
        show_protocol=order_hook
        or decision in ("candidate", "candidate-caution", "defer")
        or (decision == "indeterminate" and trd.status == "met"),
        order_name=md(order.name) if order else "",
        order_lines=_order_lines(assessment, order, settings) if order else [],
        show_alternatives=trd.status == "met" or order_hook,
        vascular_lesion=vascular,
        alternative_cautions=[
            c
            for c in (
                _cautions(assessment, "ect", VASCULAR),
                _cautions(assessment, "tms", VASCULAR),
            )
            if c
        ],
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
        links=links(
            "spravato-label",
            "spravato-rems",
            "apa-consensus",
            "eu-pearl-trd",
            "liebrenz-2007",
            "aan-het-rot-2012",
        ),
        extension=extension(assessment, list(assessment.reasons), trials=True),
    )

"""The ketamine-eligibility card: one recommendation, the decision, and why.

The summary states the action, then the decision's main reason. The detail starts with what to
do, then the evidence with dates, then the source. Only the cards whose question is TRD itself
(candidate, candidate-caution, not-trd, indeterminate) carry the trials table. During a course
with no hard stop the course card speaks instead (services/course_card.py).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from cds_service.clinical.assessment import BLOCKING, DECISION_OF, Assessment
from cds_service.clinical.findings import Reason
from cds_service.clinical.orders import DOSING_CHECKS, intravenous
from cds_service.clinical.settings import ClinicalSettings
from cds_service.protocol.models import Action, Card, Link, Suggestion
from cds_service.record.orders import DraftOrder
from cds_service.services.alternatives import (
    alternative_cautions,
    alternatives,
    psychotic_depression,
)
from cds_service.services.codes import override_reasons
from cds_service.services.common import (
    capital,
    extension,
    handout,
    handouts_index,
    links,
    referral,
    sentence_case,
    source,
    summary_fit,
    view_link,
)
from cds_service.services.content import md, texts
from cds_service.services.detail import Detail, Table, short_day
from cds_service.services.reasons import display, reason_line, reason_source, sources
from cds_service.services.trd_text import phq9_label, still_needed, trd_line, trial_row

__all__ = ["eligibility_card", "indicator_for", "order_drug", "order_label"]

Indicator = Literal["info", "warning", "critical"]
Frame = Literal["view", "order", "course"]

# Order-side reasons whose steps the order-checklist card gives (services/checklist_card.py).
CHECKLIST_ONLY = ("rems-requirements", "off-label-consent")
UNLISTED = (*CHECKLIST_ONLY, "missing-episode-onset")  # the episode line says it
TRD_QUESTION = ("candidate", "candidate-caution", "not-trd", "indeterminate")
# Reasons the "still needed" line states, so they are not listed again.
NEEDED = (
    "bp-missing",
    "missing-phq9",
    "missing-trial-data",
    "trial-duration-indeterminate",
    "no-qualifying-mdd",
)
MAX_LISTED = 3  # reasons beyond these are named, without their evidence
LABEL_CONTRAINDICATIONS = (
    "aneurysmal-vascular-disease",
    "arteriovenous-malformation",
    "intracerebral-hemorrhage-history",
    "ketamine-hypersensitivity",
)


def indicator_for(assessment: Assessment, *, order_hook: bool) -> Indicator:
    """The indicator policy (docs/integration.md §3): critical for a hard stop, warning for a
    decision that holds back or qualifies the treatment, and for not-trd or indeterminate when
    an order goes ahead of them; info otherwise."""
    decision = assessment.decision
    if decision == "contraindicated":
        return "critical"
    if decision in {"defer", "not-recommended", "not-indicated", "candidate-caution"}:
        return "warning"
    if order_hook and decision in {"not-trd", "indeterminate"}:
        return "warning"
    return "info"


def order_drug(order: DraftOrder) -> str:
    """The handout that fits an order: ``esketamine`` or ``ketamine``."""
    return "esketamine" if order.kind == "esketamine" else "ketamine"


def _order_kind(order: DraftOrder) -> str:
    return "ketamine-iv" if order.kind == "ketamine" and intravenous(order) else order.kind


def order_label(order: DraftOrder) -> str:
    return str(texts()["orderLabels"].get(_order_kind(order), "Ketamine order"))


def _frame(assessment: Assessment, order: DraftOrder | None) -> Frame:
    """ "course" when a hard stop halts the course under way (of the drug ordered, if any)."""
    course = assessment.course
    same_drug = order is None or (course is not None and order_drug(order) == course.drug)
    if course is not None and assessment.hard_stop and same_drug:
        return "course"
    return "order" if order is not None else "view"


def _pick(options: dict[str, str], frame: Frame) -> str:
    return options.get(frame) or options.get("order" if frame == "course" else "view") or ""


def _deciding(assessment: Assessment) -> list[Reason]:
    return [r for r in assessment.reasons if DECISION_OF.get(r.code) == assessment.decision]


def _summary_reason(reasons: list[Reason], today: date, settings: ClinicalSettings) -> str:
    """The main reasons in a few words: a BP or a dose by its value, others by name."""
    words = texts()["eligibility"]
    low, high = settings.ketamine_dose_band_mg_per_kg
    names = []
    for reason in reasons[:2]:
        evidence = reason.evidence[0] if reason.evidence else None
        pattern = words["summaryReason"].get(reason.code)
        dated = evidence is not None and (evidence.date or "{date}" not in (pattern or ""))
        if pattern and evidence and evidence.value and dated:
            names.append(
                pattern.format(
                    value=md(evidence.value.removesuffix(" mmHg")),
                    date=short_day(evidence.date, today) if evidence.date else "",
                    low=f"{low:g}",
                    high=f"{high:g}",
                )
            )
        else:
            names.append(sentence_case(display(reason)))
    text = " and ".join(names)
    if reasons and all(r.code in LABEL_CONTRAINDICATIONS for r in reasons) and len(text) < 70:
        text += f" ({words['labelContraindication']})"
    return text


def _summary(
    assessment: Assessment, frame: Frame, drug: str, today: date, settings: ClinicalSettings
) -> str:
    trd = assessment.trd
    options = texts()["eligibility"]["summary"][assessment.decision]
    indication = assessment.reason("indication-suicidal-ideation") is not None
    fields = {
        "drug": drug,
        "Drug": capital(drug),
        "failed": trd.failed,
        "required": trd.required,
        "reason": _summary_reason(_deciding(assessment), today, settings)
        or texts()["trd"][trd.status],
    }
    urgent = assessment.suicide is not None and assessment.suicide.code == "suicide-risk-urgent"
    if indication and "indication" in options:
        pattern = options["indication"]
    elif assessment.decision == "not-trd" and frame == "view" and urgent:
        pattern = options["suicidal"]
    elif assessment.decision == "not-trd" and trd.failed >= trd.required and trd.phq9:
        pattern = options["phq9" if frame == "view" else "phq9Order"]
        fields |= {
            "label": phq9_label(assessment),
            "score": f"{trd.phq9.value:g}",
            "state": texts()["phq9Short"].get(trd.phq9_state, ""),
        }
    elif assessment.decision == "candidate-caution" and frame != "view" and _order_only(assessment):
        pattern = options["orderCheck"]
    else:
        pattern = _pick(options, frame)
    return summary_fit(pattern.format(**fields))


def _order_only(assessment: Assessment) -> bool:
    """Every deciding caution is about how the order is written, so the order is what to
    check, not the patient's eligibility."""
    deciding = _deciding(assessment)
    return bool(deciding) and all(r.code in DOSING_CHECKS for r in deciding)


def _do(assessment: Assessment, frame: Frame, drug: str, settings: ClinicalSettings) -> str:
    words = texts()["eligibility"]
    decision = assessment.decision
    options = words["do"][decision]
    if assessment.reason("indication-suicidal-ideation") and "indication" in options:
        return str(options["indication"])
    pattern = _pick(options, frame)
    if decision == "not-trd" and frame == "view":
        trd = assessment.trd
        if assessment.suicide is not None and assessment.suicide.code == "suicide-risk-urgent":
            pattern = options["suicidal"]
        elif trd.failed >= trd.required and trd.phq9_state in texts()["phq9Short"]:
            pattern = options["phq9"]
    text = pattern.format(
        drug=drug,
        needed=still_needed(assessment, settings),
        state=texts()["phq9Short"].get(assessment.trd.phq9_state, ""),
    )
    if _offers_alternatives(assessment, frame):
        key = "psychotic" if psychotic_depression(assessment) else "both"
        text += " " + words["alternatives"][key]
    return text


def _offers_alternatives(assessment: Assessment, frame: Frame) -> bool:
    """After a hard stop in TRD (or an order), ECT and TMS are the next step."""
    blocked = assessment.decision in BLOCKING - {"not-indicated"}
    return blocked and (assessment.trd.status == "met" or frame != "view")


def _named(reasons: list[Reason]) -> str:
    """Reasons by name only: "aneurysmal vascular disease, a label contraindication"."""
    pattern = texts()["eligibility"]["labelContraindicationNamed"]
    return ", ".join(
        pattern.format(reason=sentence_case(display(r)))
        if r.code in LABEL_CONTRAINDICATIONS
        else sentence_case(display(r))
        for r in reasons
    )


def _detail(
    assessment: Assessment,
    settings: ClinicalSettings,
    frame: Frame,
    drug: str,
    ordered: str | None,
) -> Detail:
    """``drug``: the words for the drug; ``ordered``: ketamine or esketamine on an order."""
    words = texts()["eligibility"]
    decision = assessment.decision
    listed = [r for r in assessment.reasons if r.code not in UNLISTED + NEEDED]
    trd_question = decision in TRD_QUESTION
    why: list[str] = []
    notes: list[str] = []
    shown: list[Reason] = []
    if decision == "not-trd":
        # Not TRD: contraindications are hypothetical, so they are named only.
        named = [r for r in listed if DECISION_OF.get(r.code) in BLOCKING]
    else:
        if decision in BLOCKING:  # one recommendation: what blocks it, not the cautions
            listed = [r for r in listed if DECISION_OF.get(r.code) in BLOCKING]
        limit = MAX_LISTED - 1 if trd_question else MAX_LISTED  # the TRD lines need room
        shown, named = listed[:limit], listed[limit:]
        why = [
            reason_line(
                r,
                assessment,
                settings,
                drug=ordered,
                # Another decision's advice ("treat if the benefit outweighs...") would
                # contradict this card's.
                action=DECISION_OF.get(r.code, decision) == decision or decision not in BLOCKING,
            )
            for r in shown
        ]
    if named:
        notes.append(words["alsoOnRecord"].format(reasons=_named(named)))
    table = None
    if trd_question:
        notes.insert(
            0, trd_line(assessment, settings, quiet=decision == "not-trd" and frame == "view")
        )
        table = Table(
            header=words["tableHeader"],
            rows=[trial_row(t, settings) for t in assessment.trd.trials],
        )
    if _offers_alternatives(assessment, frame):
        notes.append(alternative_cautions(assessment))
    extra_source = []
    if decision == "not-indicated" and not shown:
        why = [words["noDepression"]["why"]]
        extra_source = [words["noDepression"]["source"]]
    return Detail(
        do=_do(assessment, frame, drug, settings),
        why=why,
        bullets=decision == "candidate-caution",
        notes=notes,
        table=table,
        source=sources(
            [reason_source(r, settings) for r in shown],
            [words["source"]] if trd_question else extra_source,
        ),
    )


def _suggestions(
    assessment: Assessment, patient_id: str, today: date, order: DraftOrder | None
) -> list[Suggestion]:
    decision = assessment.decision
    mdd_refs = [c.reference for c, _ in assessment.trd.mdd]
    if order is not None:  # the order is being placed: offer to remove it, and alternatives
        out = []
        if decision == "contraindicated" and order.reference:
            label = texts()["deleteLabel"].format(drug=order_label(order))
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
    if assessment.trd.status == "met" and decision in BLOCKING - {"not-indicated"}:
        return alternatives(assessment, patient_id, today)
    return []


VIEW_DECISIONS = {"candidate", "not-trd", "indeterminate"}


def _links(
    assessment: Assessment, order: DraftOrder | None, base_url: str, view: bool
) -> list[Link]:
    """Candidate and caution cards, and every order card, link the fitting handout; candidate,
    not-TRD and indeterminate cards the view too, when it is set up."""
    decision = assessment.decision
    shown = view_link(base_url) if view and decision in VIEW_DECISIONS else None
    if order is not None:
        drug = order_drug(order)
        reference = "spravato-label" if drug == "esketamine" else "apa-consensus"
        return links(reference, handouts=(handout(drug, base_url),), view=shown)
    if decision in ("candidate", "candidate-caution"):
        both = (
            (handouts_index(base_url),)
            if shown
            else (handout("esketamine", base_url), handout("ketamine", base_url))
        )
        return links("spravato-label", handouts=both, view=shown)
    if decision in ("not-trd", "indeterminate"):
        return links("eu-pearl-trd", "canmat-2023", view=shown)
    return links("spravato-label", "canmat-2023")


def eligibility_card(
    assessment: Assessment,
    settings: ClinicalSettings,
    *,
    patient_id: str,
    today: date,
    base_url: str,
    order: DraftOrder | None = None,
    view: bool = False,
) -> Card:
    frame = _frame(assessment, order)
    drug = (
        texts()["eligibility"]["drugs"][_order_kind(order)]
        if order is not None
        else texts()["eligibility"]["drugs"]["view"]
    )
    suggestions = _suggestions(assessment, patient_id, today, order)
    return Card(
        summary=_summary(assessment, frame, drug, today, settings),
        detail=_detail(
            assessment, settings, frame, drug, order_drug(order) if order else None
        ).markdown(),
        indicator=indicator_for(assessment, order_hook=order is not None),
        source=source("ketamine-eligibility"),
        suggestions=suggestions or None,
        selectionBehavior="any" if suggestions else None,
        overrideReasons=override_reasons("ketamine-eligibility"),
        links=_links(assessment, order, base_url, view),
        extension=extension(
            assessment,
            [r for r in assessment.reasons if r.code not in CHECKLIST_ONLY],
            trials=True,
        ),
    )

"""One Assessment per request: the decision, its reasons, the TRD verdict and the overlays.

Sources: docs/clinical-basis.md §2 (TRD), §3 (contraindications and cautions), §4 (blood
pressure), §7 (courses).

Decision precedence: contraindicated > not-indicated > not-recommended > defer > monitoring >
indeterminate > not-trd > candidate-caution > candidate. The first four are hard stops.

Patient-view gate (no ketamine order in play): bipolar -> not-indicated; TRD not-met ->
not-trd (contraindications still listed); TRD indeterminate -> indeterminate; only TRD met goes
through the ladder. With an order in play the ladder always applies, the order-side reasons
(clinical/orders.py) join the reasons, and drug interactions (clinical/interactions.py) are
assessed as an overlay.

Course: while one is under way (clinical/course.py) every hard stop applies, whatever the TRD
status (treatment has started); when none does, the decision is ``monitoring`` on every hook.
TRD then reads the PHQ-9 from before the course. After documented non-response, an order for
another session is ``not-recommended`` (non-response); so is any ketamine or esketamine once
that course is over, for ``prior_non_response_days``.

Esketamine for MDD with acute suicidal ideation or behaviour (urgent suicide risk on record, or
an order whose reason is suicidal ideation) does not need TRD (Spravato label §1):
indication-suicidal-ideation; without an oral antidepressant -> oral-antidepressant-needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cds_service.clinical.contraindications import contraindications, pregnant_or_postpartum
from cds_service.clinical.course import Course, courses
from cds_service.clinical.findings import Evidence, Reason
from cds_service.clinical.interactions import current_medications, interactions
from cds_service.clinical.orders import order_reasons
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.suicide import suicide_risk
from cds_service.clinical.trd import TrdResult, assess_trd
from cds_service.clinical.vitals import (
    SevereBloodPressure,
    age_reasons,
    blood_pressure_reason,
    severe_blood_pressure,
)
from cds_service.record.orders import DraftOrder
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology

__all__ = ["BLOCKING", "DECISION_OF", "PRECEDENCE", "Assessment", "assess"]

PRECEDENCE = (
    "contraindicated",
    "not-indicated",
    "not-recommended",
    "defer",
    "monitoring",
    "indeterminate",
    "not-trd",
    "candidate-caution",
    "candidate",
)

# The decision each reason sets (docs/clinical-basis.md §3). Reasons not listed inform but do
# not decide.
DECISION_OF = {
    "pregnancy": "contraindicated",
    "ketamine-hypersensitivity": "contraindicated",
    "aneurysmal-vascular-disease": "contraindicated",
    "arteriovenous-malformation": "contraindicated",
    "intracerebral-hemorrhage-history": "contraindicated",
    "bipolar-disorder": "not-indicated",
    "age-under-18": "not-indicated",
    "psychosis-history": "not-recommended",
    "psychotic-features": "not-recommended",
    "active-substance-use": "not-recommended",
    "stroke-history": "not-recommended",
    "liver-disease": "not-recommended",
    "other-intracranial-hemorrhage": "not-recommended",
    "non-response": "not-recommended",
    "uncontrolled-cardiovascular-disease": "defer",
    "bp-poorly-controlled": "defer",
    "bp-hypertensive-crisis": "defer",
    "bp-missing": "indeterminate",
    "missing-phq9": "indeterminate",
    "missing-trial-data": "indeterminate",
    "trial-duration-indeterminate": "indeterminate",
    "no-qualifying-mdd": "indeterminate",
    "missing-birth-date": "indeterminate",
    "bp-above-140-90": "candidate-caution",
    "age-65-plus": "candidate-caution",
    "substance-use-in-remission": "candidate-caution",
    "fatty-liver-disease": "candidate-caution",
    "liver-disease-other": "candidate-caution",
    "lactation": "candidate-caution",
    "dose-outside-band": "candidate-caution",
    "infusion-too-fast": "candidate-caution",
    "infusion-length-unknown": "candidate-caution",
    "oral-antidepressant-needed": "candidate-caution",
    "weight-missing": "candidate-caution",
}
BLOCKING = {"contraindicated", "not-indicated", "not-recommended", "defer"}
_TRD_DECISION = {
    "not-met": "not-trd",
    "indeterminate": "indeterminate",
    "not-applicable": "not-indicated",
}


@dataclass(frozen=True)
class Assessment:
    decision: str
    trd: TrdResult
    reasons: tuple[Reason, ...]
    suicide: Reason | None
    depressive_disorder: bool
    record: PatientRecord
    interactions: tuple[Reason, ...] = ()
    course: Course | None = None  # under way
    severe_bp: SevereBloodPressure | None = None

    @property
    def hard_stop(self) -> bool:
        return self.decision in BLOCKING

    def reason(self, code: str) -> Reason | None:
        return next((r for r in self.reasons if r.code == code), None)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def _ladder(decisions: list[str]) -> str:
    return min(decisions, key=PRECEDENCE.index) if decisions else "candidate"


def _suicidal_ideation_indication(
    order: DraftOrder, suicide: Reason | None, terminology: Terminology
) -> Reason | None:
    """Esketamine ordered for MDD with acute suicidal ideation or behaviour (label §1): urgent
    suicide risk on record, or the order's reason names suicidal ideation."""
    if order.kind != "esketamine":
        return None
    if suicide is not None and suicide.code == "suicide-risk-urgent":
        return Reason("indication-suicidal-ideation", suicide.evidence)
    code = terminology.valueset("suicidal-ideation").match(order.reason_codes)
    if code is not None:
        evidence = Evidence(
            order.reference or order.resource_type,
            code.token(),
            order.start,
            code.display or code.code,
        )
        return Reason("indication-suicidal-ideation", (evidence,))
    return None


def _oral_antidepressant(
    record: PatientRecord, other_orders: tuple[DraftOrder, ...], terminology: Terminology
) -> bool:
    """An oral antidepressant taken now, or drafted beside the order."""

    def antidepressant(ingredients: tuple[str, ...]) -> bool:
        return any(terminology.in_group(i, "antidepressant") for i in ingredients)

    return any(antidepressant(e.ingredients) for e in current_medications(record)) or any(
        antidepressant(o.recognition.ingredients) for o in other_orders
    )


def assess(
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    *,
    order: DraftOrder | None = None,
    other_orders: tuple[DraftOrder, ...] = (),
) -> Assessment:
    """Assess the record; with ``order`` (a depression-treatment ketamine/esketamine order in
    play) the ladder always applies and the order-side checks and interactions join in."""
    found = courses(record, terminology, settings)
    last = found[-1] if found else None
    course = last if last is not None and last.current else None
    trd = assess_trd(record, terminology, settings, course.start if course else None)
    reasons: list[Reason] = [*contraindications(record, terminology, settings)]
    if last is not None and "non-response" in last.codes and (order is not None or not course):
        since = record.today - timedelta(days=settings.prior_non_response_days)
        if last.sessions[-1].when >= since:
            reasons += [r for r in last.reasons if r.code == "non-response"]
    bp = blood_pressure_reason(record, terminology, settings)
    if bp:
        reasons.append(bp)
    reasons += age_reasons(record, settings)
    reasons += trd.reasons
    suicide = suicide_risk(record, terminology, settings)
    indication = None
    if order is not None:
        reasons += order_reasons(order, record, settings)
        indication = _suicidal_ideation_indication(order, suicide, terminology)
    if indication is not None:
        reasons.append(indication)
        if not _oral_antidepressant(record, other_orders, terminology):
            reasons.append(Reason("oral-antidepressant-needed", indication.evidence[:1]))
    reasons.sort(key=lambda r: (PRECEDENCE.index(DECISION_OF.get(r.code, "candidate")), r.code))

    depressive = bool(
        record.conditions_in(terminology.valueset("major-depressive-disorder"))
        or record.conditions_in(terminology.valueset("depressive-disorder-in-remission"))
        or record.conditions_in(terminology.valueset("other-depressive-disorder"))
        or record.conditions_in(terminology.valueset("bipolar-disorder"))
    )

    ladder = [DECISION_OF[r.code] for r in reasons if r.code in DECISION_OF]
    if order is not None:
        # TRD is not required for esketamine in MDD with acute suicidal ideation (label §1).
        trd_decision = "candidate" if indication else _TRD_DECISION.get(trd.status, "candidate")
        decision = _ladder([*ladder, trd_decision])
    elif trd.status == "met" or course is not None:  # a course: the hard stops, whatever TRD
        decision = _ladder(ladder)
    else:
        decision = _TRD_DECISION[trd.status]
    if course is not None and decision not in BLOCKING:
        decision = "monitoring"  # a course under way, and nothing that should stop it
    overlay = (
        tuple(interactions(record, list(other_orders), terminology))
        if order is not None or course is not None
        else ()
    )
    severe = severe_blood_pressure(
        record, terminology, settings, pregnant_or_postpartum=pregnant_or_postpartum(reasons)
    )
    return Assessment(
        decision,
        trd,
        tuple(reasons),
        suicide,
        depressive,
        record,
        overlay,
        course,
        severe,
    )

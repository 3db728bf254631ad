"""Ketamine and esketamine orders: which are depression treatment, and the order-side checks.

Sources: docs/clinical-basis.md §6 (which orders are depression treatment), §8 (order checks):
Spravato label and REMS; APA consensus 2017 (0.5 mg/kg IV over about 40 minutes, off-label,
informed consent, a monitored setting).

When  esketamine (a drug order, or HCPCS G2082/G2083) -> always depression treatment
      ketamine -> depression treatment when its reason is a depressive disorder, or it is a
      ServiceRequest for a ketamine infusion, or it is IV at <= 1 mg/kg (<= 100 mg without a
      weight) infused over 30-120 minutes (from timing.repeat.duration, a rateRatio, a
      rateQuantity or the dosage text), or IV with no length stated and nothing contrary; any
      other reason, an IM route, a bolus or a text stating another purpose ("for pain") makes it
      anaesthesia, sedation or pain, which get no cards
Then  esketamine -> rems-requirements
      ketamine -> off-label-consent
      IV ketamine -> no length stated -> infusion-length-unknown; a push or under 30 minutes
      -> infusion-too-fast; no weight within 90 days -> weight-missing; a dose outside
      0.4-1.0 mg/kg of the latest weight -> dose-outside-band
"""

from __future__ import annotations

import re
from datetime import timedelta

from cds_service.clinical.findings import Evidence, Reason
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import Reading
from cds_service.record.orders import DraftOrder
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Code, Terminology

__all__ = [
    "DOSING_CHECKS",
    "intravenous",
    "is_depression_treatment",
    "latest_weight",
    "names_depressive_disorder",
    "order_reasons",
]

# Reasons about how a draft order is written (its dose, its rate, the weight it is dosed by),
# not about the patient: changing the order answers them.
DOSING_CHECKS = frozenset(
    {"dose-outside-band", "weight-missing", "infusion-too-fast", "infusion-length-unknown"}
)
INTRAVENOUS_ROUTE = "47625008"  # SNOMED CT: intravenous route
_IV_TEXT = re.compile(r"\bintravenous|\bIV\b", re.I)
DEPRESSIVE_SETS = (
    "major-depressive-disorder",
    "other-depressive-disorder",
    "depressive-disorder-in-remission",
)


def latest_weight(record: PatientRecord, settings: ClinicalSettings) -> Reading | None:
    since = record.today - timedelta(days=settings.weight_window_days)
    recent = [w for w in record.observations.weights if since <= w.when <= record.today]
    return recent[-1] if recent else None


def intravenous(order: DraftOrder) -> bool:
    return any(c.code == INTRAVENOUS_ROUTE for c in order.route) or bool(
        order.route_text and _IV_TEXT.search(order.route_text)
    )


def names_depressive_disorder(
    codes: tuple[Code, ...],
    references: tuple[str, ...],
    record: PatientRecord,
    terminology: Terminology,
) -> bool:
    """Whether a reasonCode, or a Condition a reasonReference names, is a depressive disorder."""
    sets = [terminology.valueset(v) for v in DEPRESSIVE_SETS]
    if any(vs.match(codes) for vs in sets):
        return True
    return any(
        (condition := record.condition(ref)) is not None
        and any(vs.match(condition.codes) for vs in sets)
        for ref in references
    )


def is_depression_treatment(
    order: DraftOrder, record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> bool:
    """Only depression-treatment ketamine gets cards (docs/clinical-basis.md §6)."""
    if order.kind == "esketamine":
        return True
    if order.kind not in ("ketamine", "ketamine-infusion"):
        return False
    if names_depressive_disorder(order.reason_codes, order.reason_references, record, terminology):
        return True
    if order.reason_codes or order.reason_references:
        return False  # given for something else: pain, sedation, anaesthesia
    if order.kind == "ketamine-infusion":
        return True
    delivery = order.delivery
    if not intravenous(order) or delivery.intramuscular or delivery.other_purpose:
        return False
    minutes = order.infusion_minutes
    if minutes is None:
        if delivery.bolus:
            return False
        # No length stated and nothing contrary: presumed treatment, so that the hard stops and
        # the dose checks are not skipped; the card asks for the length (infusion-length-unknown).
    elif not (
        settings.treatment_min_infusion_minutes
        <= minutes
        <= settings.treatment_max_infusion_minutes
    ):
        return False
    if order.dose_mg_per_kg is not None:
        return order.dose_mg_per_kg <= settings.treatment_max_mg_per_kg
    if order.dose_mg is None:
        return False
    weight = latest_weight(record, settings)
    limit = (
        weight.value * settings.treatment_max_mg_per_kg
        if weight and weight.value
        else settings.treatment_max_mg_without_weight
    )
    return order.dose_mg <= limit


def order_reasons(
    order: DraftOrder, record: PatientRecord, settings: ClinicalSettings
) -> list[Reason]:
    """The order-side reasons (docs/clinical-basis.md §8) for one depression-treatment order."""
    ordered = Evidence(
        order.reference or order.resource_type,
        order.recognition.product.token() if order.recognition.product else None,
        order.start,
        order.name,
    )
    if order.kind == "esketamine":
        return [Reason("rems-requirements", (ordered,))]
    reasons = [Reason("off-label-consent", (ordered,))]
    if order.kind == "ketamine-infusion" or intravenous(order):
        minutes = order.infusion_minutes
        if minutes is None and order.kind == "ketamine" and not order.delivery.bolus:
            reasons.append(Reason("infusion-length-unknown", (ordered,)))
        elif (minutes is None and order.delivery.bolus) or (
            minutes is not None and minutes < settings.treatment_min_infusion_minutes
        ):
            shown = f"{minutes:g} minutes" if minutes is not None else "a push or bolus"
            fast = Evidence(ordered.reference, ordered.code, ordered.date, shown)
            reasons.append(Reason("infusion-too-fast", (fast,)))
        weight = latest_weight(record, settings)
        if weight is None or not weight.value:
            reasons.append(Reason("weight-missing", (ordered,)))
        low, high = settings.ketamine_dose_band_mg_per_kg
        per_kg = order.dose_mg_per_kg
        if per_kg is None and order.dose_mg is not None and weight and weight.value:
            per_kg = order.dose_mg / weight.value
        if per_kg is not None and not low <= per_kg <= high:
            evidence = [
                Evidence(
                    order.reference or order.resource_type, None, order.start, f"{per_kg:.2f} mg/kg"
                )
            ]
            if weight and weight.value and order.dose_mg_per_kg is None:
                evidence.append(
                    Evidence(
                        weight.reference, f"{LOINC}|29463-7", weight.when, f"{weight.value:g} kg"
                    )
                )
            reasons.append(Reason("dose-outside-band", tuple(evidence)))
    return reasons

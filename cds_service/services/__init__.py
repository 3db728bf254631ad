"""The ketamine/esketamine CDS services, registered with their discovery entries.

patient-view assesses the chart and answers with these cards: suicide-risk whenever its trigger
holds; for a patient in scope (a depressive disorder, or a course under way), blood-pressure in
the severe range, then ketamine-eligibility, or ketamine-course while a course is under way and
no hard stop applies, with its drug interactions. The order hooks check depression-treatment
ketamine and esketamine orders, and ECT/TMS orders (services/order_checks.py).
"""

from __future__ import annotations

from cds_service.clinical.assessment import assess
from cds_service.protocol.discovery import ServiceRegistry
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.models import Card
from cds_service.services.blood_pressure_card import blood_pressure_card
from cds_service.services.card_cap import capped
from cds_service.services.course_card import course_card
from cds_service.services.eligibility import eligibility_card
from cds_service.services.interaction_card import interaction_card
from cds_service.services.order_checks import order_cards
from cds_service.services.records import record_for, terminology_for
from cds_service.services.suicide_card import suicide_card

__all__ = ["KETAMINE_PREFETCH", "REQUIRED_PREFETCH", "registry"]

# LOINC codes the rules read (docs/clinical-basis.md §12): PHQ-9 total and item 9, blood
# pressure panel and components, pregnancy status, hCG (urine and serum, qualitative and
# rapid), body weight.
_OBSERVATION_CODES = (
    "44261-6",
    "44260-8",
    "85354-9",
    "8480-6",
    "8462-4",
    "82810-3",
    "2106-3",
    "2112-1",
    "2118-8",
    "2110-5",
    "80384-1",
    "80385-8",
    "29463-7",
)

KETAMINE_PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}",
    "medicationRequests": "MedicationRequest?patient={{context.patientId}}",
    "medicationStatements": "MedicationStatement?patient={{context.patientId}}",
    "medicationAdministrations": "MedicationAdministration?patient={{context.patientId}}",
    "observations": "Observation?patient={{context.patientId}}&code="
    + ",".join(f"http://loinc.org|{code}" for code in _OBSERVATION_CODES),
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
    "procedures": "Procedure?patient={{context.patientId}}",
}

# Patient, Conditions and medications are required (docs/integration.md §2).
REQUIRED_PREFETCH = (("patient",), ("conditions",), ("medicationRequests", "medicationStatements"))

_USAGE = (
    "Send the prefetch keys listed, or a fhirServer (with fhirAuthorization when the server "
    "needs a token) from which the service reads them. Patient, Condition and "
    "MedicationRequest or MedicationStatement data are required; without them the service "
    "answers 412. Observations, allergies, administrations and procedures are optional, and "
    "cards say when they were missing. FHIR R4."
)

registry = ServiceRegistry()


@registry.service(
    id="ketamine-trd-patient-view",
    hook="patient-view",
    title="Ketamine/esketamine eligibility for treatment-resistant depression",
    description=(
        "When a chart opens, summarises whether the patient meets treatment-resistant "
        "depression criteria (failed antidepressant trials in the current episode) and whether "
        "IV ketamine or esketamine (Spravato) is reasonable, premature or unsafe, with the "
        "evidence. Flags suicide risk and an ongoing ketamine/esketamine course."
    ),
    prefetch=KETAMINE_PREFETCH,
    usage_requirements=_USAGE,
    required=REQUIRED_PREFETCH,
)
def patient_view(call: HookCall) -> list[Card]:
    """Suicide risk whenever it holds; for a patient in scope, severe blood pressure, then
    eligibility (unless a course speaks for it), the course and its interactions."""
    record = record_for(call)
    settings = call.settings.clinical
    base_url = call.settings.links_base_url()
    view = bool(call.settings.smart_clients)
    assessment = assess(record, terminology_for(call), settings)
    patient_id = call.context.patientId
    in_scope = assessment.depressive_disorder or assessment.course is not None
    quiet = assessment.decision == "not-trd" and not settings.not_trd_card
    cards = [
        suicide_card(assessment, patient_id=patient_id, today=call.today),
        blood_pressure_card(assessment, today=call.today) if in_scope else None,
        eligibility_card(
            assessment,
            settings,
            patient_id=patient_id,
            today=call.today,
            base_url=base_url,
            view=view,
        )
        if assessment.depressive_disorder and assessment.decision != "monitoring" and not quiet
        else None,
        course_card(
            assessment,
            settings,
            patient_id=patient_id,
            today=call.today,
            base_url=base_url,
            view=view,
        ),
        interaction_card(
            assessment,
            drug=assessment.course.drug if assessment.course else "",
            ordered=False,
        ),
    ]
    shown = [card for card in cards if card is not None]
    return capped(shown, call.settings.max_cards, orders=False)


@registry.service(
    id="ketamine-order-select",
    hook="order-select",
    title="Ketamine/esketamine, ECT and TMS order checks",
    description=(
        "While a ketamine, esketamine, ECT or TMS order is being chosen, checks "
        "treatment-resistant depression criteria, contraindications, blood pressure, drug "
        "interactions and the REMS requirements, and offers alternatives."
    ),
    prefetch=KETAMINE_PREFETCH,
    usage_requirements=_USAGE + " Orders other than these get no cards.",
    required=REQUIRED_PREFETCH,
)
def order_select(call: HookCall) -> list[Card]:
    """Checks while a ketamine/esketamine order is being chosen (the selected drafts)."""
    return capped(order_cards(call), call.settings.max_cards, orders=True)


@registry.service(
    id="ketamine-order-sign",
    hook="order-sign",
    title="Ketamine/esketamine order safety check at signing",
    description=(
        "Final safety check when a ketamine, esketamine, ECT or TMS order is signed: hard stops "
        "for contraindications, with a suggestion to remove the draft order and referrals to "
        "alternatives."
    ),
    prefetch=KETAMINE_PREFETCH,
    usage_requirements=_USAGE + " Orders other than these get no cards.",
    required=REQUIRED_PREFETCH,
)
def order_sign(call: HookCall) -> list[Card]:
    """Final safety check at signing (every draft)."""
    return capped(order_cards(call), call.settings.max_cards, orders=True)

"""order-select and order-sign: checks for the orders this service knows.

order-select focuses on the drafts that ``selections`` names, with the other drafts as context;
order-sign checks every draft. A depression-treatment ketamine or esketamine order gets the
eligibility card framed for the order (or, during a course with no hard stop, the course card
in its place), the order checklist unless a hard stop applies, and any drug-interaction card.
ECT and TMS orders get a neuromodulation-safety card. Suicide risk and a severe BP add their
cards, first.
Other orders (anaesthesia, sedation, pain, ordinary drugs) get no cards
(docs/clinical-basis.md §6).
"""

from __future__ import annotations

from cds_service.clinical.assessment import assess
from cds_service.clinical.neuromodulation import neuromodulation_check
from cds_service.clinical.orders import is_depression_treatment
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.models import Card, OrderSelectContext, OrderSignContext
from cds_service.record.orders import DraftOrder, draft_orders
from cds_service.services.blood_pressure_card import blood_pressure_card
from cds_service.services.checklist_card import checklist_card
from cds_service.services.common import handout
from cds_service.services.course_card import course_card
from cds_service.services.eligibility import eligibility_card, order_drug
from cds_service.services.interaction_card import interaction_card
from cds_service.services.neuromodulation_card import neuromodulation_card
from cds_service.services.records import record_for, terminology_for
from cds_service.services.suicide_card import suicide_card

__all__ = ["order_cards"]

TREATMENT_KINDS = ("ketamine", "esketamine", "ketamine-infusion")
NEUROMODULATION_KINDS = ("ect", "tms")


def order_cards(call: HookCall) -> list[Card]:
    context = call.context
    assert isinstance(context, OrderSignContext)
    terminology = terminology_for(call)
    entries = [(e.resource, e.fullUrl) for e in context.draftOrders.entry if e.resource]
    orders = draft_orders(entries, terminology)
    focus: list[DraftOrder] = orders
    if isinstance(context, OrderSelectContext):
        selected = set(context.selections)
        focus = [o for o in orders if o.reference in selected]
    relevant = [o for o in focus if o.kind in TREATMENT_KINDS + NEUROMODULATION_KINDS]
    if not relevant:
        return []
    record = record_for(call)
    settings = call.settings.clinical
    patient_id = context.patientId
    plain = assess(record, terminology, settings)
    base_url = call.settings.links_base_url()
    cards: list[Card] = []
    framed = None  # the order-framed assessment, so that every card states the same decision
    drugs: list[str] = []  # the drugs ordered, for the handout on every card of the response
    for order in relevant:
        if order.kind in NEUROMODULATION_KINDS:
            check = neuromodulation_check(
                order.kind, record, terminology, settings, pregnancy=plain.reason("pregnancy")
            )
            cards.append(neuromodulation_card(order, check, plain))
            continue
        if not is_depression_treatment(order, record, terminology, settings):
            continue  # anaesthesia, sedation or pain: not ours
        others = tuple(o for o in orders if o is not order)
        assessment = assess(record, terminology, settings, order=order, other_orders=others)
        framed = framed or assessment
        drug = order_drug(order)
        drugs.append(drug)
        if assessment.decision != "monitoring":
            cards.append(
                eligibility_card(
                    assessment,
                    settings,
                    patient_id=patient_id,
                    today=call.today,
                    base_url=base_url,
                    order=order,
                    view=bool(call.settings.smart_clients),
                )
            )
        checklist = checklist_card(assessment, order, settings, base_url=base_url)
        if checklist:
            cards.append(checklist)
        interaction = interaction_card(
            assessment, drug=drug, ordered=True, handouts=(handout(drug, base_url),)
        )
        if interaction:
            cards.append(interaction)
    if cards:
        context_assessment = framed or plain
        course = course_card(
            context_assessment,
            settings,
            patient_id=patient_id,
            today=call.today,
            base_url=base_url,
            view=bool(call.settings.smart_clients),
        )
        ongoing = context_assessment.course
        stopped = (  # an order for the course's own drug, whose card already says to stop
            context_assessment.hard_stop
            and ongoing is not None
            and ongoing.drug in drugs
            and any(
                card.source.topic is not None and card.source.topic.code == "ketamine-eligibility"
                for card in cards
            )
        )
        if course and not stopped:
            cards.append(course)
        handouts = (handout(drugs[0], base_url),) if drugs else ()
        first = [
            suicide_card(
                context_assessment, patient_id=patient_id, today=call.today, handouts=handouts
            ),
            blood_pressure_card(context_assessment, today=call.today, handouts=handouts),
        ]
        cards[:0] = [card for card in first if card is not None]
    return cards

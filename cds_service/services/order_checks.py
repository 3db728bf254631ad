"""order-select and order-sign: checks for the orders this service knows.

order-select focuses on the drafts that ``selections`` names, with the other drafts as context;
order-sign checks every draft. Depression-treatment ketamine and esketamine orders get the
eligibility card framed for the order and any drug-interaction card; ECT and TMS orders get a
neuromodulation-safety card. Other orders (anaesthesia, sedation, pain, ordinary drugs) get no
cards (design.md §7).
"""

from __future__ import annotations

from cds_service.clinical.assessment import assess
from cds_service.clinical.neuromodulation import neuromodulation_cautions
from cds_service.clinical.orders import is_depression_treatment
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.models import Card, OrderSelectContext, OrderSignContext
from cds_service.record.orders import DraftOrder, draft_orders
from cds_service.services.course_card import course_card
from cds_service.services.eligibility import eligibility_card
from cds_service.services.interaction_card import interaction_card
from cds_service.services.neuromodulation_card import neuromodulation_card
from cds_service.services.records import record_for, terminology_for

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
    cards: list[Card] = []
    framed = None  # the order-framed assessment, so that every card states the same decision
    for order in relevant:
        if order.kind in NEUROMODULATION_KINDS:
            cautions = neuromodulation_cautions(order.kind, record, terminology, settings)
            cards.append(
                neuromodulation_card(order, cautions, assess(record, terminology, settings))
            )
            continue
        if not is_depression_treatment(order, record, terminology, settings):
            continue  # anaesthesia, sedation or pain: not ours
        others = tuple(o for o in orders if o is not order)
        assessment = assess(record, terminology, settings, order=order, other_orders=others)
        framed = framed or assessment
        cards.append(
            eligibility_card(
                assessment, settings, patient_id=context.patientId, today=call.today, order=order
            )
        )
        drug = "esketamine" if order.kind == "esketamine" else "ketamine"
        interaction = interaction_card(assessment, drug=drug)
        if interaction:
            cards.append(interaction)
    if cards:
        course = course_card(
            framed or assess(record, terminology, settings),
            settings,
            patient_id=context.patientId,
            today=call.today,
        )
        if course:
            cards.append(course)
    return cards

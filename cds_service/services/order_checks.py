"""order-select and order-sign: checks for depression-treatment ketamine and esketamine orders.

order-select focuses on the drafts that ``selections`` names, with the other drafts as context;
order-sign checks every draft. Orders that are not depression-treatment ketamine or esketamine
(anaesthesia, sedation, pain, ordinary drugs) get no cards (design.md §7).
"""

from __future__ import annotations

from cds_service.clinical.assessment import assess
from cds_service.clinical.orders import is_depression_treatment
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.models import Card, OrderSelectContext, OrderSignContext
from cds_service.record.orders import DraftOrder, draft_orders
from cds_service.services.eligibility import eligibility_card
from cds_service.services.interaction_card import interaction_card
from cds_service.services.records import record_for, terminology_for

__all__ = ["order_cards"]

TREATMENT_KINDS = ("ketamine", "esketamine", "ketamine-infusion")


def order_cards(call: HookCall) -> list[Card]:
    context = call.context
    assert isinstance(context, OrderSignContext)
    terminology = terminology_for(call)
    orders = draft_orders(context.draftOrders.resources(), terminology)
    focus: list[DraftOrder] = orders
    if isinstance(context, OrderSelectContext):
        selected = set(context.selections)
        focus = [o for o in orders if o.reference in selected]
    candidates = [o for o in focus if o.kind in TREATMENT_KINDS]
    if not candidates:
        return []
    record = record_for(call)
    settings = call.settings.clinical
    treatment = [o for o in candidates if is_depression_treatment(o, record, terminology, settings)]
    if not treatment:
        return []
    cards: list[Card] = []
    for order in treatment:
        others = tuple(o for o in orders if o is not order)
        assessment = assess(record, terminology, settings, order=order, other_orders=others)
        cards.append(
            eligibility_card(
                assessment, settings, patient_id=context.patientId, today=call.today, order=order
            )
        )
        drug = "esketamine" if order.kind == "esketamine" else "ketamine"
        interaction = interaction_card(assessment, drug=drug)
        if interaction:
            cards.append(interaction)
    return cards

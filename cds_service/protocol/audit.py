"""Write one audit row per hook call, whatever its outcome (README, Audit trail).

The route leaves what it learned in ``g`` (hook, hookInstance, patient id, cards); this writes
the row after the response is built, so 4xx answers are audited too. Each card sent is also
stored by uuid with its topic and decision, so feedback can be joined to what was said.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from cds_service.protocol.models import Card
from cds_service.storage import (
    AuditEntry,
    Database,
    IssuedCardEntry,
    patient_hash,
    record_audit,
)

__all__ = ["card_decision", "card_topic", "register_audit"]

AUDITED_ENDPOINT = "cds.call_service"


def register_audit(app: Flask, db: Database, salt: bytes) -> None:
    @app.after_request
    def audit(response: Response) -> Response:
        if request.endpoint != AUDITED_ENDPOINT or request.method != "POST":
            return response
        cards: list[Card] = g.get("audit_cards", [])
        patient_id = g.get("audit_patient_id")
        entry = AuditEntry(
            request_id=g.get("request_id", "-"),
            service_id=str((request.view_args or {}).get("service_id", "-")),
            status=response.status_code,
            latency_ms=round(
                (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
            ),
            hook=g.get("log_fields", {}).get("hook"),
            hook_instance=g.get("log_fields", {}).get("hookInstance"),
            patient_hash=patient_hash(salt, patient_id) if patient_id else None,
            issuer=g.get("client_iss"),
            card_topics=tuple(t for t in map(card_topic, cards) if t),
            decisions=tuple(dict.fromkeys(d for d in map(card_decision, cards) if d)),
            cards=tuple(
                IssuedCardEntry(
                    uuid=str(c.uuid),
                    topic=card_topic(c),
                    decision=card_decision(c),
                    indicator=c.indicator,
                )
                for c in cards
                if c.uuid
            ),
        )
        record_audit(db, entry)
        return response


def card_topic(card: Card) -> str | None:
    return card.source.topic.code if card.source.topic else None


def card_decision(card: Card) -> str | None:
    """The ``decision`` in the card's extension, whatever key the service files it under."""
    for value in (card.extension or {}).values():
        if isinstance(value, dict) and isinstance(value.get("decision"), str):
            return str(value["decision"])
    return None

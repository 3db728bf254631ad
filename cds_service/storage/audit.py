"""The audit trail: one row per hook call, with the patient id hashed (README, Audit trail).

The hash is HMAC-SHA256 under a site salt, so the same patient links across rows while the id
itself cannot be recovered by hashing candidate ids without the salt. The salt is
``KETAMINE_CDS_AUDIT_SALT`` or, failing that, a random one created once in the data directory.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, insert
from sqlalchemy.exc import SQLAlchemyError

from cds_service.storage.db import Database
from cds_service.storage.kept_secret import kept_secret
from cds_service.storage.models import AuditRecord, IssuedCard

__all__ = ["AuditEntry", "IssuedCardEntry", "load_or_create_salt", "patient_hash", "record_audit"]

log = logging.getLogger(__name__)

SALT_FILE = "audit-salt"


@dataclass(frozen=True)
class IssuedCardEntry:
    uuid: str
    topic: str | None
    decision: str | None
    indicator: str


@dataclass(frozen=True)
class AuditEntry:
    request_id: str
    service_id: str
    status: int
    latency_ms: float
    hook: str | None = None
    hook_instance: str | None = None
    patient_hash: str | None = None
    issuer: str | None = None
    card_topics: tuple[str, ...] = ()
    decisions: tuple[str, ...] = ()
    cards: tuple[IssuedCardEntry, ...] = ()


def patient_hash(salt: bytes, patient_id: str) -> str:
    return hmac.new(salt, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()


def load_or_create_salt(configured: str | None, data_dir: Path) -> bytes:
    """The configured salt, else the one in ``data_dir`` (created on first use, mode 0600)."""
    if configured:
        return configured.encode("utf-8")
    salt = kept_secret(
        data_dir, SALT_FILE, lambda: secrets.token_hex(32), setting="KETAMINE_CDS_AUDIT_SALT"
    )
    return salt.encode("utf-8")


def _storable(text: str, length: int) -> str:
    """Client text (the service id is the URL's) as its column takes it on every database:
    PostgreSQL refuses NUL characters and values longer than the column."""
    return text.replace("\x00", "")[:length]


def _table(model: type[AuditRecord | IssuedCard]) -> Table:
    return model.metadata.tables[model.__tablename__]


def record_audit(db: Database, entry: AuditEntry) -> None:
    """Store the row. A failure is logged, not raised: the clinician's answer must not be lost."""
    at = datetime.now(UTC)
    service_id = _storable(entry.service_id, 64)
    row = {
        "at": at,
        "request_id": entry.request_id,
        "service_id": service_id,
        "hook": entry.hook,
        "hook_instance": entry.hook_instance,
        "patient_hash": entry.patient_hash,
        "issuer": entry.issuer,
        "card_topics": list(entry.card_topics) or None,
        "decisions": list(entry.decisions) or None,
        "status": entry.status,
        "latency_ms": entry.latency_ms,
    }
    issued = [
        {
            "card_uuid": card.uuid,
            "at": at,
            "request_id": entry.request_id,
            "service_id": service_id,
            "topic": card.topic,
            "decision": card.decision,
            "indicator": card.indicator,
        }
        for card in entry.cards
    ]
    # Core inserts: the ORM's unit of work cost more than the rows themselves on every call.
    try:
        with db.engine.begin() as connection:
            connection.execute(insert(_table(AuditRecord)), [row])
            if issued:
                connection.execute(insert(_table(IssuedCard)), issued)
    except SQLAlchemyError as exc:
        log.error("audit row not stored", extra={"error": type(exc).__name__})

"""Durable storage (SQLAlchemy 2): feedback, the audit trail, used token ids.

SQLite is the default; ``DATABASE_URL`` selects another database, PostgreSQL
(``postgresql+psycopg://...``) for several hosts. Both are tested; what differs between them is
in ``dialects``.
"""

from cds_service.storage.audit import (
    AuditEntry,
    IssuedCardEntry,
    load_or_create_salt,
    patient_hash,
    record_audit,
)
from cds_service.storage.db import Database
from cds_service.storage.feedback import FeedbackSummary, record_feedback
from cds_service.storage.replay import remember_jti

__all__ = [
    "AuditEntry",
    "Database",
    "FeedbackSummary",
    "IssuedCardEntry",
    "load_or_create_salt",
    "patient_hash",
    "record_audit",
    "record_feedback",
    "remember_jti",
]

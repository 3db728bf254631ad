"""Durable storage (SQLAlchemy 2): feedback, used token ids; the audit trail joins them later.

SQLite is the default; any SQLAlchemy URL (``DATABASE_URL``) selects another database.
"""

from cds_service.storage.db import Database
from cds_service.storage.feedback import FeedbackSummary, record_feedback
from cds_service.storage.replay import remember_jti

__all__ = ["Database", "FeedbackSummary", "record_feedback", "remember_jti"]

"""Durable storage (SQLAlchemy 2): feedback now; the audit trail joins it later.

SQLite is the default; any SQLAlchemy URL (``DATABASE_URL``) selects another database.
"""

from cds_service.storage.db import Database
from cds_service.storage.feedback import FeedbackSummary, record_feedback

__all__ = ["Database", "FeedbackSummary", "record_feedback"]

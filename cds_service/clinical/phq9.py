"""The PHQ-9 the TRD rules read: the latest total within the window, and its band.

Bands (docs/clinical-basis.md §2.5; Kroenke 2001; CMS159): 10 or more, depression persists;
5-9, partial response; under 5, remission.
"""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord

__all__ = ["latest_phq9", "phq9_band"]


def latest_phq9(
    record: PatientRecord, settings: ClinicalSettings, *, before: date | None = None
) -> Reading | None:
    """The latest PHQ-9 within the window ending today, or ending on ``before`` (the first
    session of a course: a PHQ-9 on that day is taken before the session)."""
    end = before or record.today
    since = end - timedelta(days=settings.phq9_window_days)
    recent = [r for r in record.observations.phq9 if since <= r.when <= end]
    return recent[-1] if recent else None


def phq9_band(reading: Reading | None, settings: ClinicalSettings) -> str:
    if reading is None or reading.value is None:
        return "missing"
    if reading.value >= settings.phq9_persisting_at:
        return "persisting"
    if reading.value < settings.phq9_remission_below:
        return "remission"
    return "partial-response"

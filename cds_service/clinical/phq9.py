"""The PHQ-9 the TRD rules read: the latest total within the window, and its band.

Bands (clinical.md A8; CMS159): 10 or more, depression persists; 5-9, partial response;
under 5, remission.
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord

__all__ = ["latest_phq9", "phq9_band"]


def latest_phq9(record: PatientRecord, settings: ClinicalSettings) -> Reading | None:
    since = record.today - timedelta(days=settings.phq9_window_days)
    recent = [r for r in record.observations.phq9 if since <= r.when <= record.today]
    return recent[-1] if recent else None


def phq9_band(reading: Reading | None, settings: ClinicalSettings) -> str:
    if reading is None or reading.value is None:
        return "missing"
    if reading.value >= settings.phq9_persisting_at:
        return "persisting"
    if reading.value < settings.phq9_remission_below:
        return "remission"
    return "partial-response"

"""Build the PatientRecord for a hook call from the prefetched or fetched resources."""

from __future__ import annotations

from typing import Any

from cds_service.protocol.hookcall import HookCall
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology, default_terminology

__all__ = ["record_for", "terminology_for"]

_PATIENT_FIELDS = ("subject", "patient")


def terminology_for(call: HookCall) -> Terminology:
    extra = call.settings.knowledge_extra_dir
    return default_terminology(str(extra) if extra else None)


def _about_patient(resource: dict[str, Any], own: str) -> bool:
    """False only when a resource names another patient (``own`` is ``Patient/<id>``)."""
    for name in _PATIENT_FIELDS:
        subject = resource.get(name)
        ref = subject.get("reference") if isinstance(subject, dict) else None
        if isinstance(ref, str) and "Patient/" in ref:
            return ref == own or ref.rstrip("/").split("/_history")[0].endswith(own)
    return True


def record_for(call: HookCall) -> PatientRecord:
    patient_id = call.context.patientId
    own = f"Patient/{patient_id}"
    return PatientRecord.from_grouped(
        call.data.by_type(lambda resource: _about_patient(resource, own)),
        today=call.today,
        now=call.now,
        terminology=terminology_for(call),
        patient_id=patient_id,
    )

"""Build the PatientRecord for a hook call from the prefetched or fetched resources."""

from __future__ import annotations

from typing import Any

from cds_service.protocol.fhirjson import as_dict
from cds_service.protocol.hookcall import HookCall
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology, default_terminology

__all__ = ["record_for", "terminology_for"]

_PATIENT_FIELDS = ("subject", "patient")


def terminology_for(call: HookCall) -> Terminology:
    extra = call.settings.knowledge_extra_dir
    return default_terminology(str(extra) if extra else None)


def _about_patient(resource: dict[str, Any], patient_id: str) -> bool:
    """False only when a resource names another patient as its subject."""
    for name in _PATIENT_FIELDS:
        ref = as_dict(resource.get(name)).get("reference")
        if isinstance(ref, str) and "Patient/" in ref:
            return ref.rstrip("/").split("/_history")[0].endswith(f"Patient/{patient_id}")
    return True


def record_for(call: HookCall) -> PatientRecord:
    patient_id = call.context.patientId
    resources = [r for r in call.data.resources() if _about_patient(r, patient_id)]
    return PatientRecord.from_resources(
        resources, today=call.today, terminology=terminology_for(call), patient_id=patient_id
    )

"""Builders for hook requests, shaped as the CDS Hooks Sandbox (cds-hooks/sandbox) sends them.

The Sandbox prefetches in the browser: a read gives the bare resource, a search gives a
searchset Bundle (``total``, a ``self`` link, entries with ``search.mode: match``), and an empty
search gives a Bundle with ``total: 0`` and no entries. It sends ``fhirServer`` always and
``fhirAuthorization`` only after a SMART launch. Its draftOrders Bundle has no ``type``.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
SANDBOX_USER = "Practitioner/COREPRACTITIONER1"
SANDBOX_FHIR = "http://localhost:8081/fhir"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

KEY_TYPES = {
    "patient": "Patient",
    "conditions": "Condition",
    "medicationRequests": "MedicationRequest",
    "medicationStatements": "MedicationStatement",
    "medicationAdministrations": "MedicationAdministration",
    "observations": "Observation",
    "allergies": "AllergyIntolerance",
    "procedures": "Procedure",
}
SERVICE_FOR_HOOK = {
    "patient-view": "ketamine-trd-patient-view",
    "order-select": "ketamine-order-select",
    "order-sign": "ketamine-order-sign",
}


def load_json(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


def patient_bundle(name: str = "mdd-recurrent-two-trials") -> dict[str, Any]:
    return load_json(f"patients/{name}.json")


def patient_id(bundle: dict[str, Any]) -> str:
    return next(
        e["resource"]["id"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )


def searchset(resources: list[dict[str, Any]], base: str = SANDBOX_FHIR) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "link": [{"relation": "self", "url": f"{base}/search"}],
    }
    if resources:
        out["entry"] = [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ]
    return out


def sandbox_prefetch(bundle: dict[str, Any]) -> dict[str, Any]:
    resources = [copy.deepcopy(e["resource"]) for e in bundle["entry"]]
    prefetch: dict[str, Any] = {}
    for key, rtype in KEY_TYPES.items():
        matching = [r for r in resources if r["resourceType"] == rtype]
        prefetch[key] = matching[0] if key == "patient" else searchset(matching)
    return prefetch


def sandbox_draft_medication_request(
    patient: str,
    *,
    code: str = "312941",
    display: str = "sertraline 50 MG Oral Tablet",
    request_id: str = "request-123",
) -> dict[str, Any]:
    """A draft MedicationRequest as the Sandbox's Rx View builds it for an R4 server."""
    return {
        "resourceType": "MedicationRequest",
        "id": request_id,
        "status": "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "community",
                    }
                ]
            }
        ],
        "subject": {"reference": f"Patient/{patient}"},
        "authoredOn": "2026-03-02",
        "medicationCodeableConcept": {
            "text": display,
            "coding": [{"system": RXNORM, "code": code, "display": display}],
        },
        "dosageInstruction": [
            {
                "text": "1 {pill} daily",
                "timing": {
                    "repeat": {
                        "frequency": 1,
                        "period": 1,
                        "periodUnit": "d",
                        "boundsPeriod": {"start": "2026-03-02"},
                    }
                },
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "system": "http://unitsofmeasure.org",
                            "code": "{pill}",
                        }
                    }
                ],
            }
        ],
    }


def hook_request(
    hook: str, bundle: dict[str, Any] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A request for ``hook`` exactly as the Sandbox shapes it, with a fresh hookInstance."""
    bundle = bundle or patient_bundle()
    pid = patient_id(bundle)
    context: dict[str, Any] = {"userId": SANDBOX_USER, "patientId": pid}
    if hook in ("order-select", "order-sign"):
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": sandbox_draft_medication_request(pid)}],
        }
    if hook == "order-select":
        context["selections"] = ["MedicationRequest/request-123"]
    body: dict[str, Any] = {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "fhirServer": SANDBOX_FHIR,
        "context": context,
        "prefetch": sandbox_prefetch(bundle),
    }
    body.update(overrides)
    return body

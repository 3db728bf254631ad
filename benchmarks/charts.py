"""Realistic patient charts of a chosen size, for the benchmarks.

A chart starts from the ``candidate-two-failed-trials`` fixture (10 resources: the Patient, a
recurrent MDD, two failed SSRI trials, recent PHQ-9 and BP) and grows with the kind of history a
real chart carries: other chronic conditions, refills of non-psychiatric medications, years of
vital signs, weights and PHQ-9 screens, and in-clinic administrations. Every added resource is
older than the fixture's own latest PHQ-9 and BP, so the clinical answer stays "candidate"
at every size; the in-process run (``inprocess.measure_stages``) stops if it does not.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from cds_service.evaluate import build_request
from cds_service.fixture_loader import load_fixture

__all__ = ["BASE_FIXTURE", "chart_bundle", "chart_request"]

BASE_FIXTURE = "candidate-two-failed-trials"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"

CONDITIONS = [
    ("E78.5", "Hyperlipidemia, unspecified"),
    ("J30.9", "Allergic rhinitis, unspecified"),
    ("M54.50", "Low back pain, unspecified"),
    ("K21.9", "Gastro-esophageal reflux disease without esophagitis"),
    ("E03.9", "Hypothyroidism, unspecified"),
    ("J45.909", "Unspecified asthma, uncomplicated"),
    ("G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    ("E11.9", "Type 2 diabetes mellitus without complications"),
    ("M17.11", "Unilateral primary osteoarthritis, right knee"),
    ("L40.0", "Psoriasis vulgaris"),
]
MEDICATIONS = [
    ("314076", "lisinopril 10 MG Oral Tablet", "1 tablet daily"),
    ("197361", "amlodipine 5 MG Oral Tablet", "1 tablet daily"),
    ("617312", "atorvastatin 10 MG Oral Tablet", "1 tablet at bedtime"),
    ("861007", "metformin hydrochloride 500 MG Oral Tablet", "1 tablet twice daily"),
    ("966222", "levothyroxine sodium 0.05 MG Oral Tablet", "1 tablet daily before breakfast"),
    ("310965", "ibuprofen 200 MG Oral Tablet", "1-2 tablets every 6 hours as needed"),
]
ADMINISTERED = [
    ("26225", "ondansetron", "4 mg IV push"),
    ("35827", "ketorolac", "15 mg IV"),
]


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}


class _ChartWriter:
    def __init__(self, patient_id: str, today: date, seed: int) -> None:
        self.patient = {"reference": f"Patient/{patient_id}"}
        self.prefix = patient_id
        self.today = today
        self.random = random.Random(seed)
        self.count = 0

    def _id(self, kind: str) -> str:
        self.count += 1
        return f"{self.prefix}-{kind}-{self.count}"

    def _when(self) -> date:
        return self.today - timedelta(days=self.random.randint(40, 5 * 365))

    def condition(self) -> dict[str, Any]:
        code, display = self.random.choice(CONDITIONS)
        onset = self._when()
        status = self.random.choice(["active", "active", "resolved"])
        return {
            "resourceType": "Condition",
            "id": self._id("cond"),
            "clinicalStatus": _coding(
                "http://terminology.hl7.org/CodeSystem/condition-clinical", status, status
            ),
            "verificationStatus": _coding(
                "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "confirmed",
                "Confirmed",
            ),
            "category": [
                _coding(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "problem-list-item",
                    "Problem List Item",
                )
            ],
            "code": _coding(ICD10, code, display),
            "subject": self.patient,
            "onsetDateTime": onset.isoformat(),
            "recordedDate": onset.isoformat(),
        }

    def medication_request(self) -> dict[str, Any]:
        code, display, sig = self.random.choice(MEDICATIONS)
        start = self._when()
        return {
            "resourceType": "MedicationRequest",
            "id": self._id("medrx"),
            "status": "completed",
            "intent": "order",
            "medicationCodeableConcept": _coding(RXNORM, code, display),
            "subject": self.patient,
            "authoredOn": start.isoformat(),
            "dosageInstruction": [{"text": sig}],
            "dispenseRequest": {
                "validityPeriod": {
                    "start": start.isoformat(),
                    "end": (start + timedelta(days=90)).isoformat(),
                },
                "expectedSupplyDuration": _quantity(90, "days", "d"),
                "numberOfRepeatsAllowed": 1,
            },
        }

    def observation(self) -> dict[str, Any]:
        kind = self.random.choices(["bp", "phq9", "hr", "weight"], weights=[4, 2, 3, 1])[0]
        when = f"{self._when().isoformat()}T{self.random.randint(8, 17):02d}:15:00Z"
        base: dict[str, Any] = {
            "resourceType": "Observation",
            "id": self._id(f"obs-{kind}"),
            "status": "final",
            "subject": self.patient,
            "effectiveDateTime": when,
        }
        vital = [
            _coding(
                "http://terminology.hl7.org/CodeSystem/observation-category",
                "vital-signs",
                "Vital Signs",
            )
        ]
        if kind == "bp":
            return {
                **base,
                "category": vital,
                "code": _coding(
                    LOINC, "85354-9", "Blood pressure panel with all children optional"
                ),
                "component": [
                    {
                        "code": _coding(LOINC, "8480-6", "Systolic blood pressure"),
                        "valueQuantity": _quantity(self.random.randint(108, 136), "mmHg", "mm[Hg]"),
                    },
                    {
                        "code": _coding(LOINC, "8462-4", "Diastolic blood pressure"),
                        "valueQuantity": _quantity(self.random.randint(66, 86), "mmHg", "mm[Hg]"),
                    },
                ],
            }
        if kind == "phq9":
            return {
                **base,
                "category": [
                    _coding(
                        "http://terminology.hl7.org/CodeSystem/observation-category",
                        "survey",
                        "Survey",
                    )
                ],
                "code": _coding(
                    LOINC, "44261-6", "Patient Health Questionnaire 9 item total score"
                ),
                "valueQuantity": _quantity(self.random.randint(12, 22), "{score}", "{score}"),
            }
        if kind == "hr":
            return {
                **base,
                "category": vital,
                "code": _coding(LOINC, "8867-4", "Heart rate"),
                "valueQuantity": _quantity(self.random.randint(58, 92), "beats/minute", "/min"),
            }
        return {
            **base,
            "category": vital,
            "code": _coding(LOINC, "29463-7", "Body weight"),
            "valueQuantity": _quantity(round(self.random.uniform(62, 78), 1), "kg", "kg"),
        }

    def administration(self) -> dict[str, Any]:
        code, ingredient, text = self.random.choice(ADMINISTERED)
        when = f"{self._when().isoformat()}T10:30:00Z"
        return {
            "resourceType": "MedicationAdministration",
            "id": self._id("medadmin"),
            "status": "completed",
            "medicationCodeableConcept": _coding(RXNORM, code, ingredient),
            "subject": self.patient,
            "effectivePeriod": {"start": when, "end": when},
            "dosage": {"text": text},
        }


# Share of each kind in the added history: mostly observations, as in real charts.
MIX = (("observation", 60), ("medication_request", 20), ("condition", 12), ("administration", 8))


def chart_bundle(size: int, today: date, seed: int = 7) -> dict[str, Any]:
    """A collection Bundle of ``size`` resources (at least the fixture's 10), dated for today."""
    bundle = load_fixture("patients", BASE_FIXTURE, shift_to=today)
    patient_id = bundle["entry"][0]["resource"]["id"]
    writer = _ChartWriter(patient_id, today, seed)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    added = [
        getattr(writer, kinds[n % len(kinds)])() for n in range(max(0, size - len(bundle["entry"])))
    ]
    return {**bundle, "entry": [*bundle["entry"], *({"resource": r} for r in added)]}


def chart_request(size: int, today: date, hook: str = "patient-view") -> dict[str, Any]:
    """The patient-view request an EHR would send for a chart of ``size`` resources."""
    return build_request(chart_bundle(size, today), hook)

"""Builders of realistic FHIR R4 resources with clinical defaults, dated against the anchor."""

from __future__ import annotations

import zlib
from datetime import date, timedelta
from typing import Any

ANCHOR = date(2026, 3, 2)  # fixtures/README.md
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
SCT = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
TERM = "http://terminology.hl7.org/CodeSystem"

Resource = dict[str, Any]


def ago(days: int) -> str:
    return (ANCHOR - timedelta(days=days)).isoformat()


def _concept(*codings: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "coding": [{"system": s, "code": c, "display": d} for s, c, d in codings],
        "text": codings[0][2],
    }


def patient(pid: str, given: str, family: str, birth: str, gender: str) -> Resource:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [
            {
                "system": "urn:oid:2.16.840.1.113883.19.5.99999.1",
                "value": f"MRN-{zlib.crc32(pid.encode()) % 1000000:06d}",
            }
        ],
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth,
    }


def condition(
    cid: str,
    pid: str,
    icd: tuple[str, str],
    sct: tuple[str, str] | None = None,
    *,
    onset: str | None = None,
    recorded: str | None = None,
    status: str = "active",
    verification: str = "confirmed",
    abatement: str | None = None,
) -> Resource:
    codings = [(ICD, *icd)] + ([(SCT, *sct)] if sct else [])
    out: Resource = {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {"coding": [{"system": f"{TERM}/condition-clinical", "code": status}]},
        "verificationStatus": {
            "coding": [{"system": f"{TERM}/condition-ver-status", "code": verification}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": f"{TERM}/condition-category",
                        "code": "problem-list-item",
                        "display": "Problem List Item",
                    }
                ]
            }
        ],
        "code": _concept(*codings),
        "subject": {"reference": f"Patient/{pid}"},
    }
    if onset:
        out["onsetDateTime"] = onset
    if abatement:
        out["abatementDateTime"] = abatement
    if recorded:
        out["recordedDate"] = recorded
    return out


def med_request(
    mid: str,
    pid: str,
    rxcui: str,
    display: str,
    *,
    start: str,
    end: str | None = None,
    status: str = "completed",
    tablets: float = 1,
    per_day: int = 1,
    status_reason: str | None = None,
) -> Resource:
    repeat: dict[str, Any] = {
        "frequency": per_day,
        "period": 1,
        "periodUnit": "d",
        "boundsPeriod": {"start": start, **({"end": end} if end else {})},
    }
    out: Resource = {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": _concept((RXNORM, rxcui, display)),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": start,
        "requester": {"reference": "Practitioner/prac-psych-01", "display": "Dr. Maya Chen"},
        "dosageInstruction": [
            {
                "text": f"Take {tablets:g} tablet(s) by mouth {per_day} time(s) daily",
                "timing": {"repeat": repeat},
                "route": {"coding": [{"system": SCT, "code": "26643006", "display": "Oral route"}]},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": tablets,
                            "unit": "tablet",
                            "system": f"{TERM}/v3-orderableDrugForm",
                            "code": "TAB",
                        }
                    }
                ],
            }
        ],
    }
    if status_reason:
        out["statusReason"] = {"text": status_reason}
    return out


def med_statement(
    msid: str,
    pid: str,
    rxcui: str | None,
    display: str,
    *,
    start: str | None = None,
    end: str | None = None,
    status: str = "completed",
) -> Resource:
    concept = _concept((RXNORM, rxcui, display)) if rxcui else {"text": display}
    out: Resource = {
        "resourceType": "MedicationStatement",
        "id": msid,
        "status": status,
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{pid}"},
    }
    if start or end:
        out["effectivePeriod"] = {k: v for k, v in (("start", start), ("end", end)) if v}
    return out


def _observation(
    oid: str, pid: str, code: str, display: str, when: str, category: str = "survey", **value: Any
) -> Resource:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": f"{TERM}/observation-category", "code": category}]}],
        "code": _concept((LOINC, code, display)),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        **value,
    }


def phq9(oid: str, pid: str, score: int, when: str) -> Resource:
    return _observation(
        oid,
        pid,
        "44261-6",
        "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
        when,
        valueQuantity={"value": score, "unit": "{score}", "system": UCUM, "code": "{score}"},
    )


ITEM9 = {
    0: ("LA6568-5", "Not at all"),
    1: ("LA6569-3", "Several days"),
    2: ("LA6570-1", "More than half the days"),
    3: ("LA6571-9", "Nearly every day"),
}


def item9(oid: str, pid: str, score: int, when: str) -> Resource:
    code, display = ITEM9[score]
    return _observation(
        oid,
        pid,
        "44260-8",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
        when,
        valueCodeableConcept={"coding": [{"system": LOINC, "code": code, "display": display}]},
    )


def bp(oid: str, pid: str, systolic: int, diastolic: int, when: str) -> Resource:
    def component(code: str, display: str, value: int) -> dict[str, Any]:
        return {
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
            "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"},
        }

    return _observation(
        oid,
        pid,
        "85354-9",
        "Blood pressure panel with all children optional",
        f"{when}T09:30:00-05:00",
        category="vital-signs",
        component=[
            component("8480-6", "Systolic blood pressure", systolic),
            component("8462-4", "Diastolic blood pressure", diastolic),
        ],
    )


def pregnancy_status(oid: str, pid: str, pregnant: bool, when: str) -> Resource:
    code, display = ("LA15173-0", "Pregnant") if pregnant else ("LA26683-5", "Not pregnant")
    return _observation(
        oid,
        pid,
        "82810-3",
        "Pregnancy status",
        when,
        category="social-history",
        valueCodeableConcept={"coding": [{"system": LOINC, "code": code, "display": display}]},
    )


def hcg(oid: str, pid: str, positive: bool, when: str) -> Resource:
    code, display = ("10828004", "Positive") if positive else ("260385009", "Negative")
    return _observation(
        oid,
        pid,
        "2106-3",
        "Choriogonadotropin (pregnancy test) [Presence] in Urine",
        when,
        category="laboratory",
        valueCodeableConcept={"coding": [{"system": SCT, "code": code, "display": display}]},
    )


def allergy(
    aid: str,
    pid: str,
    code: tuple[str, str, str],
    *,
    verification: str = "confirmed",
    recorded: str | None = None,
) -> Resource:
    out: Resource = {
        "resourceType": "AllergyIntolerance",
        "id": aid,
        "clinicalStatus": {
            "coding": [{"system": f"{TERM}/allergyintolerance-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": f"{TERM}/allergyintolerance-verification", "code": verification}]
        },
        "type": "allergy",
        "category": ["medication"],
        "criticality": "high",
        "code": _concept(code),
        "patient": {"reference": f"Patient/{pid}"},
    }
    if recorded:
        out["recordedDate"] = recorded
    return out


def bundle(pid: str, resources: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "id": f"fixture-{pid}",
        "type": "collection",
        "meta": {
            "tag": [
                {
                    "system": "https://ketamine-cds.org/fhir/CodeSystem/fixture",
                    "code": "anchor-2026-03-02",
                    "display": "Dates written against 2026-03-02",
                }
            ]
        },
        "entry": [
            {"fullUrl": f"https://fhir.example.org/r4/{r['resourceType']}/{r['id']}", "resource": r}
            for r in resources
        ],
    }


# Common medication codes (docs/clinical-basis.md §12)
SERTRALINE_100 = ("312938", "sertraline 100 MG Oral Tablet")
SERTRALINE_50 = ("312941", "sertraline 50 MG Oral Tablet")
ESCITALOPRAM_20 = ("351250", "escitalopram 20 MG Oral Tablet")
FLUOXETINE_20 = ("310385", "fluoxetine 20 MG Oral Capsule")
DULOXETINE_60 = ("596934", "duloxetine 60 MG Delayed Release Oral Capsule")
BUPROPION_300 = ("993557", "24 HR bupropion hydrochloride 300 MG Extended Release Oral Tablet")
VENLAFAXINE_150 = ("313581", "24 HR venlafaxine 150 MG Extended Release Oral Capsule")
MIRTAZAPINE_30 = ("314111", "mirtazapine 30 MG Oral Tablet")
ARIPIPRAZOLE_5 = ("402131", "aripiprazole 5 MG Oral Tablet")
MDD_RECURRENT = (
    ("F33.1", "Major depressive disorder, recurrent, moderate"),
    ("66344007", "Recurrent major depression (disorder)"),
)
MDD_SEVERE = (
    ("F33.2", "Major depressive disorder, recurrent severe without psychotic features"),
    ("36474008", "Severe recurrent major depression without psychotic features (disorder)"),
)


def spravato_draft(
    did: str, pid: str, *, kit: str = "2119391", display: str = "Spravato 56 MG Dose Kit"
) -> Resource:
    """A draft esketamine order: 56 mg (2 devices) intranasally, twice weekly (label)."""
    return {
        "resourceType": "MedicationRequest",
        "id": did,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": _concept((RXNORM, kit, display)),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": ANCHOR.isoformat(),
        "dosageInstruction": [
            {
                "text": "56 mg (2 devices) intranasally twice weekly, under observation",
                "route": {
                    "coding": [{"system": SCT, "code": "46713006", "display": "Nasal route"}]
                },
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}},
                "doseAndRate": [
                    {"doseQuantity": {"value": 56, "unit": "mg", "system": UCUM, "code": "mg"}}
                ],
            }
        ],
    }


def iv_ketamine_draft(
    did: str,
    pid: str,
    dose_mg: float,
    *,
    minutes: int | None = 40,
    reason: tuple[str, str] | None = None,
) -> Resource:
    """A draft IV ketamine order; an infusion when ``minutes`` is given, else a bolus."""
    repeat: dict[str, Any] = {"count": 1}
    if minutes is not None:
        repeat |= {"duration": minutes, "durationUnit": "min"}
    out: Resource = {
        "resourceType": "MedicationRequest",
        "id": did,
        "status": "draft",
        "intent": "order",
        "medicationCodeableConcept": _concept(
            (RXNORM, "238084", "ketamine 50 MG/ML Injectable Solution")
        ),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": ANCHOR.isoformat(),
        "dosageInstruction": [
            {
                "text": f"{dose_mg:g} mg IV" + (f" over {minutes} minutes" if minutes else " push"),
                "route": {
                    "coding": [{"system": SCT, "code": "47625008", "display": "Intravenous route"}]
                },
                "timing": {"repeat": repeat},
                "doseAndRate": [
                    {"doseQuantity": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}}
                ],
            }
        ],
    }
    if reason:
        out["reasonCode"] = [_concept((ICD, *reason))]
    return out


def drug_draft(did: str, pid: str, rxcui: str, display: str) -> Resource:
    return {
        **med_request(did, pid, rxcui, display, start=ANCHOR.isoformat(), status="draft"),
        "dosageInstruction": [
            {
                "text": "1 tablet daily",
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
    }


def esketamine_service_draft(did: str, pid: str) -> Resource:
    return {
        "resourceType": "ServiceRequest",
        "id": did,
        "status": "draft",
        "intent": "order",
        "code": _concept(
            (
                "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                "G2082",
                "Esketamine up to 56 mg with 2 hours observation",
            )
        ),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": ANCHOR.isoformat(),
    }


def weight(oid: str, pid: str, kg: float, when: str) -> Resource:
    return _observation(
        oid,
        pid,
        "29463-7",
        "Body weight",
        when,
        category="vital-signs",
        valueQuantity={"value": kg, "unit": "kg", "system": UCUM, "code": "kg"},
    )


def neuromodulation_draft(did: str, pid: str, kind: str) -> Resource:
    code = (
        ("90870", "Electroconvulsive therapy (includes necessary monitoring)")
        if kind == "ect"
        else (
            "90867",
            "Therapeutic repetitive transcranial magnetic stimulation (TMS) treatment; initial",
        )
    )
    return {
        "resourceType": "ServiceRequest",
        "id": did,
        "status": "draft",
        "intent": "order",
        "code": _concept(("http://www.ama-assn.org/go/cpt", *code)),
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": ANCHOR.isoformat(),
    }


def ketamine_administration(
    aid: str, pid: str, when: str, *, dose_mg: float = 35, minutes: int = 40
) -> Resource:
    """A completed IV ketamine administration, infused over ``minutes``."""
    start = f"{when}T10:00:00-05:00"
    end_minute = 0 + minutes
    end = f"{when}T{10 + end_minute // 60:02d}:{end_minute % 60:02d}:00-05:00"
    return {
        "resourceType": "MedicationAdministration",
        "id": aid,
        "status": "completed",
        "medicationCodeableConcept": _concept(
            (RXNORM, "238084", "ketamine 50 MG/ML Injectable Solution")
        ),
        "subject": {"reference": f"Patient/{pid}"},
        "effectivePeriod": {"start": start, "end": end},
        "dosage": {
            "route": {
                "coding": [{"system": SCT, "code": "47625008", "display": "Intravenous route"}]
            },
            "dose": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }


def esketamine_administration(aid: str, pid: str, when: str) -> Resource:
    return {
        "resourceType": "MedicationAdministration",
        "id": aid,
        "status": "completed",
        "medicationCodeableConcept": _concept((RXNORM, "2119391", "Spravato 56 MG Dose Kit")),
        "subject": {"reference": f"Patient/{pid}"},
        "effectivePeriod": {"start": f"{when}T09:00:00-05:00", "end": f"{when}T09:10:00-05:00"},
        "dosage": {
            "route": {"coding": [{"system": SCT, "code": "46713006", "display": "Nasal route"}]},
            "dose": {"value": 56, "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }


def ketamine_session(
    aid: str,
    pid: str,
    when: str,
    *,
    dose_mg: float | None = 35,
    rate_ratio_minutes: float | None = None,
    rate_ml_per_hour: float | None = None,
    text: str | None = None,
    route: str = "iv",
    reason: tuple[str, str] | None = None,
    time: str = "10:00:00",
) -> Resource:
    """A completed ketamine administration dated by ``effectiveDateTime`` alone, shaped as EHRs
    record it: a dose with a rateRatio (mg per minutes), a rateQuantity in mL/h of the 10 mg/mL
    solution, a duration written only in the text, or nothing but the date."""
    routes = {
        "iv": ("47625008", "Intravenous route"),
        "im": ("78421000", "Intramuscular route"),
    }
    code = ("238082", "ketamine 10 MG/ML Injectable Solution")
    dosage: dict[str, Any] = {
        "route": {
            "coding": [{"system": SCT, "code": routes[route][0], "display": routes[route][1]}]
        }
    }
    if dose_mg is not None and rate_ml_per_hour is None:
        dosage["dose"] = {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}
    if rate_ratio_minutes is not None and dose_mg is not None:
        dosage["rateRatio"] = {
            "numerator": {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"},
            "denominator": {
                "value": rate_ratio_minutes,
                "unit": "min",
                "system": UCUM,
                "code": "min",
            },
        }
    if rate_ml_per_hour is not None and dose_mg is not None:
        dosage["dose"] = {"value": dose_mg / 10, "unit": "mL", "system": UCUM, "code": "mL"}
        dosage["rateQuantity"] = {
            "value": rate_ml_per_hour,
            "unit": "mL/h",
            "system": UCUM,
            "code": "mL/h",
        }
    if text:
        dosage["text"] = text
    out: Resource = {
        "resourceType": "MedicationAdministration",
        "id": aid,
        "status": "completed",
        "medicationCodeableConcept": _concept((RXNORM, *code)),
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": f"{when}T{time}-05:00",
        "dosage": dosage,
    }
    if reason:
        out["reasonCode"] = [_concept((ICD, *reason))]
    return out


def procedure(
    prid: str,
    pid: str,
    code: tuple[str, str, str],
    when: str,
    *,
    surgical: bool = False,
) -> Resource:
    out: Resource = {
        "resourceType": "Procedure",
        "id": prid,
        "status": "completed",
        "code": _concept(code),
        "subject": {"reference": f"Patient/{pid}"},
        "performedDateTime": when,
    }
    if surgical:
        out["category"] = {
            "coding": [{"system": SCT, "code": "387713003", "display": "Surgical procedure"}]
        }
    return out


def bp_at(oid: str, pid: str, systolic: int, diastolic: int, when: str, time: str) -> Resource:
    """A BP panel taken at ``time`` (UTC) on ``when``."""
    out = bp(oid, pid, systolic, diastolic, when)
    out["effectiveDateTime"] = f"{when}T{time}Z"
    return out


ICD_PCS = "http://www.cms.gov/Medicare/Coding/ICD10"

"""Draft orders are recognised as the order hooks need; sessions come from every source."""

from __future__ import annotations

from cds_service.clinical.course import current_course
from cds_service.clinical.orders import is_depression_treatment
from cds_service.clinical.settings import ClinicalSettings
from tests import fhir as f
from tests.scenarios import trd_base

P = "p1"
SETTINGS = ClinicalSettings()


def test_a_contained_spravato_medication_coded_by_ndc_is_esketamine(draft) -> None:
    order = {
        "resourceType": "MedicationRequest",
        "id": "d1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {
                    "coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "50458-028-02"}]
                },
            }
        ],
        "medicationReference": {"reference": "#m1"},
    }
    [parsed] = draft(order)
    assert (parsed.kind, parsed.reference, parsed.matched_by_name) == (
        "esketamine",
        "MedicationRequest/d1",
        False,
    )


def test_a_bundled_medication_and_a_name_only_order_are_recognised(draft) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "ket",
        "code": f._concept((f.RXNORM, "238084", "ketamine 50 MG/ML")),
    }
    by_ref = {
        **f.iv_ketamine_draft("d1", P, 35),
        "medicationReference": {"reference": "Medication/ket"},
    }
    by_ref.pop("medicationCodeableConcept")
    by_name = {
        **f.iv_ketamine_draft("d2", P, 35),
        "medicationCodeableConcept": {"text": "Ketamine 35 mg IV infusion"},
    }
    parsed = {o.reference: o for o in draft(medication, by_ref, by_name)}
    assert parsed["MedicationRequest/d1"].kind == "ketamine"
    assert parsed["MedicationRequest/d2"].matched_by_name is True


def test_a_ketamine_infusion_service_request_is_treatment(draft, record_from, terminology) -> None:
    service = {
        "resourceType": "ServiceRequest",
        "id": "s1",
        "status": "draft",
        "intent": "order",
        "code": {"text": "Ketamine infusion therapy series"},
        "subject": {"reference": "Patient/p1"},
    }
    [order] = draft(service)
    assert order.kind == "ketamine-infusion"
    assert is_depression_treatment(order, record_from(*trd_base(P)), terminology, SETTINGS)


def test_ketamine_with_a_pain_reason_and_no_infusion_is_not_treatment(
    draft, record_from, terminology
) -> None:
    [order] = draft(
        f.iv_ketamine_draft(
            "d1", P, 20, minutes=None, reason=("G89.18", "Other acute postprocedural pain")
        )
    )
    assert not is_depression_treatment(order, record_from(*trd_base(P)), terminology, SETTINGS)


def test_esketamine_visits_recorded_as_procedures_are_sessions(record_from, terminology) -> None:
    visits = [
        {
            "resourceType": "Procedure",
            "id": f"v{i}",
            "status": "completed",
            "code": f._concept(
                (
                    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                    "G2082",
                    "Esketamine up to 56 mg",
                )
            ),
            "subject": {"reference": "Patient/p1"},
            "performedDateTime": f.ago(d),
        }
        for i, d in enumerate((10, 6, 3))
    ]
    course = current_course(record_from(*trd_base(P), *visits), terminology, SETTINGS)
    assert course is not None and course.drug == "esketamine" and len(course.sessions) == 3


def test_a_course_ended_long_ago_is_not_current(record_from, terminology) -> None:
    old = [f.esketamine_administration(f"a{i}", P, f.ago(d)) for i, d in enumerate((100, 97))]
    assert current_course(record_from(*trd_base(P), *old), terminology, SETTINGS) is None

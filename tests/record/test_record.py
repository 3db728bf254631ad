"""PatientRecord reads R4 as EHRs send it, and never crashes on odd data."""

from __future__ import annotations

import json

import pytest

from cds_service.record.terminology import RXNORM, Code, Terminology, knowledge_root
from tests import fhir as f

P = "p1"
PATIENT = f.patient(P, "Alex", "Kim", "1985-01-01", "female")


def test_item9_reads_integers_quantities_and_answer_codes(record_from) -> None:
    coded = f.item9("a", P, 2, f.ago(1))
    integer = {**f.item9("b", P, 0, f.ago(2)), "valueInteger": 3}
    integer.pop("valueCodeableConcept")
    quantity = {**f.item9("c", P, 0, f.ago(3)), "valueQuantity": {"value": 1}}
    quantity.pop("valueCodeableConcept")
    values = {
        r.reference: r.value
        for r in record_from(PATIENT, coded, integer, quantity).observations.item9
    }
    assert values == {"Observation/a": 2, "Observation/b": 3, "Observation/c": 1}


def test_phq9_items_inside_a_panel_are_read(record_from) -> None:
    panel = f._observation(
        "panel", P, "44249-1", "PHQ-9 quick depression assessment panel", f.ago(4)
    )
    panel["component"] = [
        {"code": {"coding": [{"system": f.LOINC, "code": "44261-6"}]}, "valueInteger": 21},
        {
            "code": {"coding": [{"system": f.LOINC, "code": "44260-8"}]},
            "valueCodeableConcept": {"coding": [{"system": f.LOINC, "code": "LA6571-9"}]},
        },
    ]
    obs = record_from(PATIENT, panel).observations
    assert [r.value for r in obs.phq9] == [21] and [r.value for r in obs.item9] == [3]


def test_contained_and_bundled_medications_are_resolved(record_from) -> None:
    contained = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "m",
                "code": f._concept((RXNORM, "596934", "duloxetine 60 MG")),
            }
        ],
        "medicationReference": {"reference": "#m"},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": f.ago(10),
    }
    bundled = {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "medicationReference": {"reference": "Medication/med-2"},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": f.ago(20),
    }
    medication = {
        "resourceType": "Medication",
        "id": "med-2",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "50458-028-02"}]},
    }
    record = record_from(PATIENT, contained, bundled, medication)
    found = {m.reference: (m.ingredients, m.recognition.matched_by) for m in record.medications}
    assert found == {
        "MedicationRequest/mr1": (("duloxetine",), "rxnorm-product"),
        "MedicationStatement/ms1": (("esketamine",), "ndc"),
    }


def test_a_request_period_comes_from_authored_on_plus_the_supply(record_from) -> None:
    request = f.med_request("mr", P, *f.SERTRALINE_100, start=f.ago(200), end=f.ago(100))
    request["dosageInstruction"][0]["timing"]["repeat"].pop("boundsPeriod")
    request["dispenseRequest"] = {
        "numberOfRepeatsAllowed": 2,
        "expectedSupplyDuration": {"value": 30, "code": "d"},
    }
    [exposure] = record_from(PATIENT, request).medications
    assert (exposure.start.isoformat(), exposure.end.isoformat()) == (f.ago(200), f.ago(110))
    request.pop("dispenseRequest")
    [unknown] = record_from(PATIENT, request).medications
    assert (unknown.duration_known, unknown.days(unknown.start)) == (False, None)


@pytest.mark.parametrize(
    ("dosage", "daily"),
    [
        (
            {
                "doseAndRate": [{"doseQuantity": {"value": 150, "unit": "mg"}}],
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            },
            300,
        ),
        (
            {
                "doseAndRate": [{"doseQuantity": {"value": 2, "unit": "tablet"}}],
                "timing": {"code": {"coding": [{"code": "BID"}]}},
            },
            400,
        ),
        ({"text": "Take 1 tablet by mouth every morning"}, 100),
        ({"doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}]}, None),
    ],
)
def test_daily_dose_from_structure_codes_or_text(record_from, dosage, daily) -> None:
    request = f.med_request("mr", P, *f.SERTRALINE_100, start=f.ago(50))
    request["dosageInstruction"] = [dosage]
    [exposure] = record_from(PATIENT, request).medications
    assert exposure.daily_dose_mg == daily


def test_entered_in_error_refuted_draft_and_cancelled_data_are_ignored(record_from) -> None:
    record = record_from(
        PATIENT,
        f.condition("c1", P, ("I67.1", "Cerebral aneurysm"), verification="entered-in-error"),
        f.condition("c2", P, ("F20.9", "Schizophrenia"), verification="refuted"),
        f.med_request("m1", P, *f.SERTRALINE_100, start=f.ago(9), status="draft"),
        f.med_request("m2", P, *f.SERTRALINE_100, start=f.ago(9), status="cancelled"),
        {**f.bp("bp", P, 200, 130, f.ago(1)), "status": "entered-in-error"},
    )
    assert (record.conditions, record.medications, record.observations.blood_pressures) == (
        (),
        (),
        (),
    )


@pytest.mark.parametrize(
    "junk",
    [
        {"resourceType": "Condition", "code": "F33.1", "clinicalStatus": 5, "onsetDateTime": 2020},
        {"resourceType": "Condition", "code": {"coding": [{"code": "F33.1"}]}},  # no system
        {
            "resourceType": "MedicationRequest",
            "medicationCodeableConcept": [1],
            "dosageInstruction": {"text": 5},
            "authoredOn": "yesterday",
            "dispenseRequest": "x",
        },
        {
            "resourceType": "MedicationStatement",
            "medicationReference": {"reference": 7},
            "dosage": [None, {"doseAndRate": "x", "timing": []}],
            "effectivePeriod": "2020",
        },
        {
            "resourceType": "Observation",
            "code": {"coding": "x"},
            "component": [1, {"code": 3}],
            "effectiveDateTime": "2026-13-45",
        },
        {
            "resourceType": "Observation",
            "code": {"coding": [{"system": f.LOINC, "code": "44261-6"}]},
            "valueQuantity": {"value": "high"},
            "effectiveDateTime": "2026-02-01",
        },
        {"resourceType": "AllergyIntolerance", "code": {"text": None}, "reaction": "x"},
        {"resourceType": "Patient", "birthDate": "19xx", "gender": 3},
        {"resourceType": "Procedure", "code": [], "performedPeriod": 4},
    ],
)
def test_odd_resources_never_crash(record_from, assess_record, junk) -> None:
    record = record_from(PATIENT, junk)
    assess_record(record)


def test_codes_without_a_system_never_match_a_value_set(record_from, terminology) -> None:
    record = record_from(
        PATIENT, {"resourceType": "Condition", "id": "c", "code": {"coding": [{"code": "I67.1"}]}}
    )
    assert record.conditions_in(terminology.valueset("aneurysmal-vascular-disease")) == []


def test_oid_systems_and_undotted_icd_codes_match(terminology) -> None:
    aneurysm = terminology.valueset("aneurysmal-vascular-disease")
    assert aneurysm.match([Code("http://hl7.org/fhir/sid/icd-10-cm", "I671")])
    from cds_service.record.values import codes_of

    oid = codes_of({"coding": [{"system": "urn:oid:2.16.840.1.113883.6.90", "code": "I67.1"}]})
    assert aneurysm.match(oid)


def test_exclusions_win_over_inclusions(terminology) -> None:
    active = terminology.valueset("substance-use-disorder-active")
    icd = "http://hl7.org/fhir/sid/icd-10-cm"
    assert active.match([Code(icd, "F10.20")]) and not active.match([Code(icd, "F10.21")])
    pregnancy = terminology.valueset("pregnancy")
    assert pregnancy.match([Code(icd, "O09.90")]) and not pregnancy.match([Code(icd, "O92.70")])


def test_whole_word_names_do_not_match_inside_other_names(terminology) -> None:
    assert terminology.recognise([], ["esketamine 28 mg"]).ingredients == ("esketamine",)
    assert terminology.recognise([], ["dextroamphetamine"]).ingredients == ("dextroamphetamine",)
    assert terminology.recognise([], ["ketamines and more"]).ingredients == ()


def test_a_site_directory_adds_codes_without_code_changes(tmp_path) -> None:
    (tmp_path / "valuesets").mkdir()
    (tmp_path / "valuesets" / "aneurysm-local.json").write_text(
        json.dumps(
            {
                "id": "aneurysmal-vascular-disease",
                "include": [
                    {"system": "http://example.org/local-dx", "codes": [{"code": "ANEU-7"}]}
                ],
            }
        )
    )
    (tmp_path / "medications").mkdir()
    (tmp_path / "medications" / "rxnorm-products.json").write_text(
        json.dumps(
            {
                "products": {
                    "9999999": {
                        "display": "local sertraline",
                        "ingredients": [{"name": "sertraline", "strength": 25, "unit": "MG"}],
                    }
                }
            }
        )
    )
    site = Terminology([knowledge_root(), tmp_path])
    assert site.valueset("aneurysmal-vascular-disease").match(
        [Code("http://example.org/local-dx", "ANEU-7")]
    )
    assert site.recognise([Code(RXNORM, "9999999")]).strengths == {"sertraline": (25.0, "MG")}


def test_every_value_set_a_rule_names_exists(terminology) -> None:
    import re
    from pathlib import Path

    import cds_service.clinical as clinical

    named = set()
    for module in Path(clinical.__file__).parent.glob("*.py"):
        named |= set(re.findall(r'valueset\("([a-z0-9-]+)"\)', module.read_text()))
        named |= set(re.findall(r'\("([a-z0-9-]+)", "[a-z0-9-]+"\)', module.read_text())) & set(
            terminology.valuesets
        )
    assert named and named <= set(terminology.valuesets)


def test_the_product_map_covers_the_ecqm_antidepressant_value_set(terminology) -> None:
    products = json.loads((knowledge_root() / "medications" / "rxnorm-products.json").read_text())
    from_vsac = [
        code
        for code, p in products["products"].items()
        if "antidepressant-medication" in p["source"]
    ]
    assert len(from_vsac) >= 170
    for code in from_vsac:
        recognition = terminology.recognise([Code(RXNORM, code)])
        assert recognition.matched_by == "rxnorm-product"
        assert any(
            terminology.in_group(i, "antidepressant") or terminology.in_group(i, "augmenter")
            for i in recognition.ingredients
        ), code


def test_medications_no_rule_can_name_are_left_out_of_the_record(record_from) -> None:
    lisinopril = f.med_request(
        "mr-ace", P, "314076", "lisinopril 10 MG Oral Tablet", start=f.ago(90)
    )
    sertraline = f.med_request(
        "mr-ssri", P, "312941", "sertraline 50 MG Oral Tablet", start=f.ago(90)
    )
    fulfils = {
        **f.ketamine_administration("ma-local", P, f.ago(3)[:10]),
        "medicationCodeableConcept": {"coding": [{"system": "urn:local", "code": "K-50"}]},
        "request": {"reference": "MedicationRequest/mr-ket"},
    }
    unlinked = {**fulfils, "id": "ma-unlinked"}
    unlinked.pop("request")

    record = record_from(PATIENT, lisinopril, sertraline, fulfils, unlinked)

    kept = {m.reference: m.ingredients for m in record.medications}
    assert kept == {
        "MedicationRequest/mr-ssri": ("sertraline",),
        "MedicationAdministration/ma-local": (),
    }
    assert record.medications[1].request_reference == "MedicationRequest/mr-ket"


def test_conditions_in_keeps_record_order_across_repeated_codings(record_from, terminology) -> None:
    """Matches are grouped by coding internally; callers still get record order."""
    mdd = ("F33.1", "Major depressive disorder, recurrent, moderate")
    record = record_from(
        PATIENT,
        f.condition("c1", P, mdd, onset="2025-01-05"),
        f.condition("c2", P, ("F32.2", "MDD, single episode, severe"), onset="2025-02-05"),
        f.condition("c3", P, mdd, onset="2025-03-05", status="resolved"),
        f.condition("c4", P, ("I10", "Essential hypertension"), onset="2025-04-05"),
        f.condition("c5", P, mdd, onset="2025-05-05"),
    )
    valueset = terminology.valueset("major-depressive-disorder")
    hits = record.conditions_in(valueset)
    assert [(c.reference, code.code) for c, code in hits] == [
        ("Condition/c1", "F33.1"),
        ("Condition/c2", "F32.2"),
        ("Condition/c3", "F33.1"),
        ("Condition/c5", "F33.1"),
    ]
    active = record.conditions_in(valueset, active_only=True)
    assert [c.reference for c, _ in active] == ["Condition/c1", "Condition/c2", "Condition/c5"]

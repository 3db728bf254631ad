"""Order-hook cases a review found wrong or silent; each must now give the right answer."""

from __future__ import annotations

import pytest

from cds_service.clinical.course import current_course
from cds_service.clinical.settings import ClinicalSettings
from tests import fhir as f
from tests.builders import hook_request
from tests.scenarios import _ketamine_patient, trd_base

P = "p1"
SETTINGS = ClinicalSettings()
SIGN = "/cds-services/ketamine-order-sign"


def pregnant(p: str = P) -> list[dict]:
    return [*_ketamine_patient(p), f.pregnancy_status("preg", p, True, f.ago(10))]


def sign(client, resources, drafts, *, full_urls=None):
    body = hook_request("order-sign", f.bundle(P, resources))
    body["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": d, **({"fullUrl": full_urls[i]} if full_urls and full_urls[i] else {})}
            for i, d in enumerate(drafts)
        ],
    }
    response = client.post(SIGN, json=body)
    assert response.status_code == 200
    return response.json["cards"]


def topics(cards) -> list[tuple[str, str]]:
    return [(c["source"]["topic"]["code"], c["indicator"]) for c in cards]


def test_an_iv_ketamine_order_dosed_in_mg_per_kg_is_checked(client) -> None:
    order = f.iv_ketamine_draft("d1", P, 0.5)
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {
        "value": 0.5,
        "unit": "mg/kg",
        "code": "mg/kg",
        "system": f.UCUM,
    }
    assert topics(sign(client, pregnant(), [order]))[0] == ("ketamine-eligibility", "critical")


def test_an_infusion_given_by_rate_is_an_infusion(client) -> None:
    order = f.iv_ketamine_draft("d1", P, 35, minutes=None)
    order["dosageInstruction"][0]["doseAndRate"][0]["rateQuantity"] = {
        "value": 52.5,
        "unit": "mg/h",
        "code": "mg/h",
    }
    assert topics(sign(client, pregnant(), [order]))[0] == ("ketamine-eligibility", "critical")


def test_a_draft_without_an_id_is_named_by_its_full_url(client) -> None:
    order = {k: v for k, v in f.spravato_draft("x", P).items() if k != "id"}
    cards = sign(
        client,
        pregnant(),
        [order],
        full_urls=["https://ehr.example.org/fhir/MedicationRequest/1111"],
    )
    delete = cards[0]["suggestions"][0]["actions"][0]
    assert delete == {
        "type": "delete",
        "description": delete["description"],
        "resourceId": "MedicationRequest/1111",
    }


def test_a_draft_without_any_reference_gets_no_delete_but_still_the_hard_stop(client) -> None:
    order = {k: v for k, v in f.spravato_draft("x", P).items() if k != "id"}
    [card] = sign(client, pregnant(), [order])
    assert card["indicator"] == "critical"
    assert all(a["type"] != "delete" for s in card["suggestions"] for a in s["actions"])


def test_a_medication_referenced_by_urn_uuid_is_resolved(client) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": f._concept((f.RXNORM, "2119391", "Spravato 56 MG Dose Kit")),
    }
    order = {**f.spravato_draft("d1", P), "medicationReference": {"reference": "urn:uuid:m1"}}
    order.pop("medicationCodeableConcept")
    cards = sign(client, pregnant(), [order, medication], full_urls=[None, "urn:uuid:m1"])
    assert topics(cards)[0] == ("ketamine-eligibility", "critical")


@pytest.mark.parametrize(
    "draft",
    [
        {
            "resourceType": "ServiceRequest",
            "id": "s1",
            "status": "draft",
            "intent": "order",
            "code": {"text": "Ketamine infusion"},
            "subject": {"reference": "Patient/p1"},
            "reasonCode": [
                {
                    "coding": [
                        {
                            "system": f.ICD,
                            "code": "G90.521",
                            "display": "Complex regional pain syndrome I of right lower limb",
                        }
                    ]
                }
            ],
        },
        f.iv_ketamine_draft("d1", P, 35, reason=("G89.4", "Chronic pain syndrome")),
    ],
)
def test_ketamine_ordered_for_pain_gets_no_cards(client, draft) -> None:
    assert sign(client, pregnant(), [draft]) == []


def test_one_visit_recorded_twice_is_one_session(record_from, terminology) -> None:
    admins = [
        f.esketamine_administration(f"a{i}", P, f.ago(d))
        for i, d in enumerate((20, 17, 13, 10, 6, 3))
    ]
    procedures = [
        {
            "resourceType": "Procedure",
            "id": f"v{i}",
            "status": "completed",
            "code": f._concept(
                (
                    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
                    "G2083",
                    "Esketamine > 56 mg",
                )
            ),
            "subject": {"reference": "Patient/p1"},
            "performedDateTime": f.ago(d),
        }
        for i, d in enumerate((20, 17, 13, 10, 6, 3))
    ]
    course = current_course(record_from(*trd_base(P), *admins, *procedures), terminology, SETTINGS)
    assert len(course.sessions) == 6
    assert "off-protocol-frequency" not in {r.code for r in course.reasons}


def test_a_request_fulfilled_by_an_administration_is_not_a_second_session(
    record_from, terminology
) -> None:
    request = {
        **f.med_request(
            "r1", P, "238084", "ketamine 50 MG/ML Injectable Solution", start=f.ago(5), end=f.ago(5)
        ),
        "reasonCode": [f._concept((f.ICD, "F33.1", "MDD, recurrent, moderate"))],
    }
    admin = {
        **f.ketamine_administration("a1", P, f.ago(5), minutes=5),
        "request": {"reference": "MedicationRequest/r1"},
    }
    course = current_course(
        record_from(*_ketamine_patient(P), request, admin), terminology, SETTINGS
    )
    assert course is not None and [s.reference for s in course.sessions] == [
        "MedicationAdministration/a1"
    ]


def test_an_active_statement_without_dates_still_interacts(client) -> None:
    statement = f.med_statement("lz", P, "197901", "lorazepam 1 MG Oral Tablet", status="active")
    cards = sign(client, [*trd_base(P), statement], [f.spravato_draft("d1", P)])
    assert ("drug-interaction", "warning") in topics(cards)


def test_z_drugs_by_name_interact(client) -> None:
    statement = f.med_statement(
        "es", P, None, "Lunesta 3 mg at bedtime", status="active", start=f.ago(30)
    )
    cards = sign(client, [*trd_base(P), statement], [f.spravato_draft("d1", P)])
    assert ("drug-interaction", "warning") in topics(cards)


def test_a_same_day_phq9_is_the_baseline(record_from, terminology) -> None:
    days = (24, 22, 20, 17, 15, 10)
    resources = [
        *_ketamine_patient(P),
        f.phq9("base", P, 20, f.ago(24)),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate(days)),
        f.phq9("now", P, 8, f.ago(3)),
    ]
    course = current_course(record_from(*resources), terminology, SETTINGS)
    assert {r.code for r in course.reasons} >= {"response"}


def test_non_response_needs_a_phq9_after_induction(record_from, terminology) -> None:
    days = (24, 22, 20, 17, 15, 10)
    resources = [
        *_ketamine_patient(P),
        f.phq9("base", P, 20, f.ago(27)),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate(days)),
        f.phq9("early", P, 19, f.ago(21)),
    ]
    resources = [r for r in resources if not r["id"].endswith("phq9-recent")]
    course = current_course(record_from(*resources), terminology, SETTINGS)
    assert "non-response" not in {r.code for r in course.reasons}


def test_a_stalled_iv_induction_is_not_complete(record_from, terminology) -> None:
    resources = [
        *_ketamine_patient(P),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate((25, 23))),
    ]
    course = current_course(record_from(*resources), terminology, SETTINGS)
    assert not course.induction_complete


def test_a_resolved_recent_mi_is_an_ect_caution(client) -> None:
    mi = f.condition("mi", P, ("I21.4", "NSTEMI"), onset=f.ago(40), status="resolved")
    cards = sign(client, [*trd_base(P), mi], [f.neuromodulation_draft("e1", P, "ect")])
    assert cards[0]["indicator"] == "warning"
    assert "myocardial infarction within 90 days" in cards[0]["summary"].lower()


def test_a_tms_order_with_an_aneurysm_asks_to_screen_for_clips(client) -> None:
    aneurysm = f.condition("an", P, ("I67.1", "Cerebral aneurysm, nonruptured"))
    [card] = sign(client, [*trd_base(P), aneurysm], [f.neuromodulation_draft("t1", P, "tms")])
    assert card["indicator"] == "warning" and "clips or coils" in card["summary"]


def test_every_card_of_an_order_response_states_the_same_decision(client) -> None:
    days = (24, 22, 20, 17, 15, 10)
    resources = [
        *_ketamine_patient(P),
        f.phq9("base", P, 19, f.ago(27)),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate(days)),
    ]
    cards = sign(client, resources, [f.spravato_draft("d1", P)])
    decisions = {c["extension"]["org.ketamine-cds.assessment"]["decision"] for c in cards}
    assert len(cards) >= 2 and len(decisions) == 1


def test_the_delete_label_keeps_the_drug_name(client) -> None:
    [card, *_] = sign(client, pregnant(), [f.iv_ketamine_draft("d1", P, 35)])
    assert card["suggestions"][0]["label"] == "Remove the draft IV ketamine order"


def test_continuing_a_working_course_is_not_flagged_as_not_trd(client) -> None:
    days = (24, 22, 20, 17, 15, 10)
    resources = [
        *_ketamine_patient(P),
        f.phq9("base", P, 20, f.ago(27)),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate(days)),
        f.phq9("now", P, 6, f.ago(2)),
    ]
    resources = [r for r in resources if not r["id"].endswith("phq9-recent")]
    cards = sign(client, resources, [f.iv_ketamine_draft("d1", P, 35)])
    assert "ketamine-eligibility" not in [c["source"]["topic"]["code"] for c in cards]
    course = next(c for c in cards if c["source"]["topic"]["code"] == "ketamine-course")
    assessment = course["extension"]["org.ketamine-cds.assessment"]
    assert (assessment["trd"], assessment["decision"]) == ("met", "monitoring")
    assert "response" in course["summary"]


def test_an_order_for_a_failed_courses_own_drug_gets_one_stop_card_not_two(client) -> None:
    days = (24, 22, 20, 17, 15, 10)
    resources = [
        *_ketamine_patient(P),
        f.phq9("base", P, 19, f.ago(27)),
        *(f.ketamine_administration(f"i{i}", P, f.ago(d)) for i, d in enumerate(days)),
    ]
    same_drug = sign(client, resources, [f.iv_ketamine_draft("d1", P, 35)])
    assert [c["source"]["topic"]["code"] for c in same_drug] == ["ketamine-eligibility"]
    assert same_drug[0]["summary"].startswith("No further IV ketamine sessions")
    other_drug = sign(client, resources, [f.spravato_draft("d1", P)])
    topics = [c["source"]["topic"]["code"] for c in other_drug]
    assert "ketamine-course" in topics  # stopping the IV course is news beside an esketamine order

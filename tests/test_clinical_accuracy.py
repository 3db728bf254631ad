"""What prescribers are told: the defects an independent clinical review found, one test each.

Every test goes through HTTP, as an EHR calls the service, and asserts the card's topic,
indicator, decision, reasons and the words a clinician reads.
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests import fhir as f
from tests.builders import ROOT, hook_request
from tests.scenarios import trd_base

P = "p1"
KEY = "org.ketamine-cds.assessment"
MDD = ("F33.1", "Major depressive disorder, recurrent, moderate")
SERVICE = {
    "patient-view": "/cds-services/ketamine-trd-patient-view",
    "order-select": "/cds-services/ketamine-order-select",
    "order-sign": "/cds-services/ketamine-order-sign",
}
IV_DAYS = (24, 22, 20, 17, 15, 10)  # 3, 2, then 1 infusions


def call(client, resources, hook="patient-view", drafts=None) -> list[dict[str, Any]]:
    body = hook_request(hook, f.bundle(P, resources))
    if drafts is not None:
        body["context"]["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": d} for d in drafts],
        }
        if hook == "order-select":
            body["context"]["selections"] = [f"{drafts[0]['resourceType']}/{drafts[0]['id']}"]
    response = client.post(SERVICE[hook], json=body)
    assert response.status_code == 200, response.json
    return response.json["cards"]


def topics(cards) -> list[str]:
    return [c["source"]["topic"]["code"] for c in cards]


def card(cards, topic: str) -> dict[str, Any]:
    found = [c for c in cards if c["source"]["topic"]["code"] == topic]
    assert found, f"no {topic} card in {topics(cards)}"
    return found[0]


def assessment(c) -> dict[str, Any]:
    return c["extension"][KEY]


def reasons(c) -> set[str]:
    return {r["code"] for r in assessment(c).get("reasons", [])}


def text(c) -> str:
    return c["summary"] + "\n" + c.get("detail", "")


def suggested_codes(cards) -> set[str]:
    return {
        coding["code"]
        for c in cards
        for s in c.get("suggestions", [])
        for a in s["actions"]
        if a["type"] == "create"
        for coding in a["resource"]["code"]["coding"]
    }


def patient(**kw: Any) -> list[dict[str, Any]]:
    """TRD met (two failed SSRI trials, PHQ-9 16), BP 128/82, 70 kg."""
    return [*trd_base(P, **kw), f.weight("w", P, 70, f.ago(30))]


def before_course(score: int = 20, days: int = 27) -> dict[str, Any]:
    return f.phq9("phq9-before", P, score, f.ago(days))


def no_recent_phq9(resources) -> list[dict[str, Any]]:
    return [r for r in resources if not r["id"].endswith(("phq9-recent", "item9-recent"))]


# 1. Ketamine courses as EHRs record them ---------------------------------------------------


@pytest.mark.parametrize(
    "session",
    [
        pytest.param(lambda i, d: f.ketamine_session(i, P, d, rate_ratio_minutes=40), id="ratio"),
        pytest.param(
            lambda i, d: f.ketamine_session(i, P, d, rate_ml_per_hour=5.25), id="ml-per-hour"
        ),
        pytest.param(
            lambda i, d: f.ketamine_session(i, P, d, text="35 mg IV infused over 40 minutes"),
            id="text-infused-over",
        ),
        pytest.param(
            lambda i, d: f.ketamine_session(i, P, d, text="0.5 mg/kg over 40 min"),
            id="text-over-min",
        ),
        pytest.param(
            lambda i, d: f.ketamine_session(i, P, d, text="40-minute infusion"),
            id="text-minute-infusion",
        ),
        pytest.param(lambda i, d: f.ketamine_session(i, P, d, reason=MDD), id="dated-with-reason"),
    ],
)
def test_sessions_recorded_without_an_effective_period_are_a_course(client, session) -> None:
    resources = [
        *patient(),
        before_course(),
        *(session(f"k{i}", f.ago(d)) for i, d in enumerate(IV_DAYS)),
    ]
    cards = call(client, resources)
    course = card(cards, "ketamine-course")
    assert "ketamine-eligibility" not in topics(cards)
    assert assessment(course)["decision"] == "monitoring"
    assert "6 sessions" in course["summary"]


def test_dated_sessions_join_a_series_recognised_by_duration(client) -> None:
    first, *rest = IV_DAYS
    resources = [
        *patient(),
        before_course(),
        f.ketamine_session("k0", P, f.ago(first), rate_ratio_minutes=40),
        *(f.ketamine_session(f"k{i}", P, f.ago(d)) for i, d in enumerate(rest, 1)),
    ]
    course = card(call(client, resources), "ketamine-course")
    assert "6 sessions" in course["summary"]
    assert "induction-complete" in reasons(course)


def test_dated_sessions_alone_are_not_a_course(client) -> None:
    resources = [
        *patient(),
        *(f.ketamine_session(f"k{i}", P, f.ago(d)) for i, d in enumerate(IV_DAYS)),
    ]
    cards = call(client, resources)
    assert topics(cards) == ["ketamine-eligibility"]
    assert assessment(cards[0])["decision"] == "candidate"


@pytest.mark.parametrize(
    "contrary",
    [
        pytest.param(lambda d: [f.ketamine_session("x", P, d, route="im")], id="intramuscular"),
        pytest.param(lambda d: [f.ketamine_session("x", P, d, text="35 mg IV push")], id="push"),
        pytest.param(lambda d: [f.ketamine_session("x", P, d, dose_mg=140)], id="2-mg-per-kg"),
        pytest.param(
            lambda d: [
                f.ketamine_session("x", P, d, reason=("G89.18", "Other acute postprocedural pain"))
            ],
            id="pain-reason",
        ),
        pytest.param(
            lambda d: [
                f.ketamine_session("x", P, d),
                f.procedure("surgery", P, (f.SCT, "80146002", "Appendectomy"), d, surgical=True),
            ],
            id="surgery-same-day",
        ),
    ],
)
def test_a_dated_dose_with_contrary_evidence_is_not_a_session(client, contrary) -> None:
    """A 2 mg/kg bolus during surgery, an IM dose or a pain dose is not depression treatment,
    even beside a course."""
    resources = [
        *patient(),
        before_course(),
        *(
            f.ketamine_session(f"k{i}", P, f.ago(d), rate_ratio_minutes=40)
            for i, d in enumerate(IV_DAYS)
        ),
        *contrary(f.ago(5)),
    ]
    course = card(call(client, resources), "ketamine-course")
    assert "6 sessions" in course["summary"]
    assert "x" not in {
        e["reference"].split("/")[-1]
        for r in assessment(course)["reasons"]
        for e in r.get("evidence", [])
    }


def test_an_infusion_over_hours_is_not_a_course(client) -> None:
    """Analgesic or sedative ketamine at 0.1-0.3 mg/kg/h over hours."""
    infusion = f.ketamine_administration("k1", P, f.ago(5), dose_mg=42, minutes=360)
    infusion["dosage"]["rateQuantity"] = {"value": 0.1, "unit": "mg/kg/h", "code": "mg/kg/h"}
    cards = call(client, [*patient(), infusion])
    assert topics(cards) == ["ketamine-eligibility"]


def test_a_draft_given_by_rate_ratio_once_is_depression_treatment(client) -> None:
    draft = f.iv_ketamine_draft("d1", P, 35, minutes=None)
    dosage = draft["dosageInstruction"][0]
    dosage["text"] = "35 mg IV"
    dosage["doseAndRate"][0]["rateRatio"] = {
        "numerator": {"value": 35, "unit": "mg", "code": "mg"},
        "denominator": {"value": 40, "unit": "min", "code": "min"},
    }
    cards = call(client, patient(), "order-sign", [draft])
    assert "ketamine-eligibility" in topics(cards)


def test_a_draft_infused_longer_than_the_maximum_gets_no_cards(client) -> None:
    assert (
        call(client, patient(), "order-sign", [f.iv_ketamine_draft("d1", P, 35, minutes=180)]) == []
    )


def iv_course(latest: int | None = 8, *, extra=()) -> list[dict[str, Any]]:
    resources = [
        *no_recent_phq9(patient()),
        before_course(),
        *(
            f.ketamine_session(f"k{i}", P, f.ago(d), rate_ratio_minutes=40)
            for i, d in enumerate(IV_DAYS)
        ),
        *extra,
    ]
    if latest is not None:
        resources.append(f.phq9("phq9-latest", P, latest, f.ago(3)))
    return resources


@pytest.mark.parametrize(
    ("hook", "draft"),
    [
        ("patient-view", None),
        ("order-select", lambda: f.iv_ketamine_draft("d1", P, 35, reason=MDD)),
        ("order-sign", lambda: f.iv_ketamine_draft("d1", P, 35, reason=MDD)),
    ],
)
def test_the_course_card_replaces_the_eligibility_card_on_every_hook(client, hook, draft) -> None:
    cards = call(client, iv_course(), hook, [draft()] if draft else None)
    assert "ketamine-eligibility" not in topics(cards)
    assert assessment(card(cards, "ketamine-course"))["decision"] == "monitoring"


def test_a_hard_stop_still_shows_its_eligibility_card_during_a_course(client) -> None:
    aneurysm = f.condition(
        "an", P, ("I67.1", "Cerebral aneurysm, nonruptured"), recorded="2024-03-25"
    )
    cards = call(client, iv_course(extra=[aneurysm]))
    eligibility = card(cards, "ketamine-eligibility")
    assert (eligibility["indicator"], assessment(eligibility)["decision"]) == (
        "critical",
        "contraindicated",
    )
    assert "ketamine-course" in topics(cards)


def test_trd_during_a_course_reads_the_phq9_from_before_it(client) -> None:
    """The pre-course PHQ-9 (20, taken 20 days before session 1) is outside the 14-day course
    baseline; the latest (4) is what the treatment achieved and must not make the patient
    'not TRD'."""
    resources = [r for r in iv_course(latest=4) if r["id"] != "phq9-before"]
    resources.append(f.phq9("phq9-before", P, 20, f.ago(IV_DAYS[0] + 20)))
    cards = call(client, resources, "order-sign", [f.iv_ketamine_draft("d1", P, 35, reason=MDD)])
    assert {assessment(c)["trd"] for c in cards} == {"met"}
    assert "ketamine-eligibility" not in topics(cards)


def test_every_phq9_shown_is_labelled(client) -> None:
    aneurysm = f.condition(
        "an", P, ("I67.1", "Cerebral aneurysm, nonruptured"), recorded="2024-03-25"
    )
    resources = iv_course(extra=[aneurysm, f.phq9("phq9-base", P, 19, f.ago(26))])
    cards = call(client, resources)
    course = text(card(cards, "ketamine-course"))
    assert "PHQ-9 before the course: 19 on" in course and "latest: 8 on" in course
    # A hard stop's card names what stops the course; any PHQ-9 it shows says which one.
    stop = text(card(cards, "ketamine-eligibility"))
    assert "PHQ-9" not in stop or "PHQ-9 before the course" in stop


def test_after_non_response_no_card_offers_ketamine_and_ect_tms_are_offered(client) -> None:
    cards = call(client, iv_course(latest=17))
    course = card(cards, "ketamine-course")
    assert course["indicator"] == "warning" and "non-response" in reasons(course)
    codes = suggested_codes(cards)
    assert {"ect-consultation", "tms-evaluation"} <= codes
    assert "ketamine-evaluation" not in codes


@pytest.mark.parametrize(
    "draft",
    [lambda: f.iv_ketamine_draft("d1", P, 35, reason=MDD), lambda: f.spravato_draft("d1", P)],
)
def test_after_non_response_an_order_for_another_session_is_not_recommended(client, draft) -> None:
    cards = call(client, iv_course(latest=17), "order-sign", [draft()])
    eligibility = card(cards, "ketamine-eligibility")
    assert assessment(eligibility)["decision"] == "not-recommended"
    assert "non-response" in reasons(eligibility)
    assert "ketamine-evaluation" not in suggested_codes(cards)
    offering = [c for c in cards if "ect-consultation" in suggested_codes([c])]
    assert offering == [eligibility]  # one card offers the alternatives, not two


def test_after_a_course_ends_in_non_response_no_ketamine_referral(client) -> None:
    days = tuple(d + 90 for d in IV_DAYS)
    resources = [
        *patient(),
        f.phq9("before", P, 20, f.ago(days[0] + 3)),
        *(
            f.ketamine_session(f"k{i}", P, f.ago(d), rate_ratio_minutes=40)
            for i, d in enumerate(days)
        ),
        f.phq9("after", P, 18, f.ago(days[-1] - 3)),
    ]
    cards = call(client, resources)
    eligibility = card(cards, "ketamine-eligibility")
    assert "non-response" in reasons(eligibility)
    assert "ketamine-evaluation" not in suggested_codes(cards)


def test_a_next_session_past_its_due_date_is_overdue_with_the_days(client) -> None:
    days = (50, 48, 46, 43, 41, 36)  # induction complete; maintenance due 28 days after day 36
    resources = [
        *no_recent_phq9(patient()),
        f.phq9("before", P, 20, f.ago(53)),
        *(
            f.ketamine_session(f"k{i}", P, f.ago(d), rate_ratio_minutes=40)
            for i, d in enumerate(days)
        ),
        f.phq9("after", P, 8, f.ago(30)),
    ]
    course = card(call(client, resources), "ketamine-course")
    assert "session-overdue" in reasons(course) and course["indicator"] == "warning"
    assert "8 days overdue" in text(course)


# 2. Risks stated as the label states them --------------------------------------------------


def test_lactation_is_a_caution_with_breastfeeding_advice(client) -> None:
    lactating = f.condition(
        "lac",
        P,
        ("Z39.1", "Encounter for care and examination of lactating mother"),
        recorded=f.ago(20),
    )
    [eligibility] = call(client, [*patient(), lactating])
    assert assessment(eligibility)["decision"] == "candidate-caution"
    assert "lactation" in reasons(eligibility)
    assert "Advise against breastfeeding during treatment." in text(eligibility)


def test_a_recent_delivery_without_lactation_asks_about_breastfeeding(client) -> None:
    delivered = f.condition(
        "del", P, ("Z39.2", "Encounter for routine postpartum follow-up"), recorded=f.ago(20)
    )
    [eligibility] = call(client, [*patient(), delivered])
    assert assessment(eligibility)["decision"] == "candidate"
    assert "postpartum" in reasons(eligibility)
    assert "Ask about breastfeeding" in text(eligibility)


@pytest.mark.parametrize(
    "code",
    [
        ("O86.4", "Pyrexia of unknown origin following delivery"),
        ("O92.3", "Agalactia"),
        ("O92.5", "Suppressed lactation"),
    ],
)
def test_puerperal_complications_and_lactation_failure_are_neither(client, code) -> None:
    [eligibility] = call(client, [*patient(), f.condition("c", P, code, recorded=f.ago(20))])
    assert assessment(eligibility)["decision"] == "candidate"
    assert not reasons(eligibility) & {"lactation", "postpartum"}


def test_pregnancy_says_what_the_label_says(client) -> None:
    pregnant = f.pregnancy_status("preg", P, True, f.ago(10))
    [eligibility] = call(client, [*patient(), pregnant])
    assert assessment(eligibility)["decision"] == "contraindicated"
    words = text(eligibility)
    assert "Not recommended in pregnancy; this service's own hard stop" in words
    assert "not a label contraindication" in words
    assert "Registry" not in words  # no exposure yet: nothing to register


def test_pregnancy_during_a_course_stops_it_and_registers_the_exposure(client) -> None:
    sessions = [f.esketamine_administration(f"s{n}", P, f.ago(20 - 3 * n)) for n in range(4)]
    pregnant = f.pregnancy_status("preg", P, True, f.ago(2))
    cards = call(client, [*patient(), before_course(days=24), *sessions, pregnant])
    words = "\n".join(text(c) for c in cards)
    assert any(
        assessment(c).get("decision") == "contraindicated" for c in cards if c.get("extension")
    )
    assert "Stop the course and counsel the patient" in words
    assert "National Pregnancy Registry for Antidepressants, 1-844-405-6185" in words


def test_a_patient_who_could_become_pregnant_is_advised_on_contraception(client) -> None:
    cards = call(client, patient(), "order-sign", [f.spravato_draft("d1", P)])
    assert "advise contraception" in text(card(cards, "order-checklist"))


def test_cirrhosis_is_not_recommended_and_asks_for_the_child_pugh_class(client) -> None:
    cirrhosis = f.condition(
        "cir", P, ("K74.60", "Unspecified cirrhosis of liver"), onset="2023-05-01"
    )
    [eligibility] = call(client, [*patient(), cirrhosis])
    assert assessment(eligibility)["decision"] == "not-recommended"
    assert "liver-disease" in reasons(eligibility)
    assert "Child-Pugh C" in text(eligibility)


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (("K75.81", "Nonalcoholic steatohepatitis (NASH)"), "liver-disease-other"),
        (("K73.9", "Chronic hepatitis, unspecified"), "liver-disease-other"),
        (("K76.0", "Fatty (change of) liver, not elsewhere classified"), "fatty-liver-disease"),
    ],
)
def test_other_liver_disease_is_a_caution_with_longer_monitoring(client, code, reason) -> None:
    [eligibility] = call(client, [*patient(), f.condition("liv", P, code, onset="2023-05-01")])
    assert assessment(eligibility)["decision"] == "candidate-caution"
    assert reasons(eligibility) == {reason}
    assert "monitor longer after each dose" in text(eligibility)


@pytest.mark.parametrize(
    ("extra", "kw", "phrase"),
    [
        ([], {"blood_pressure": (150, 92)}, "check BP before the dose and about 40 minutes after"),
        ([], {"birth": "1958-05-11"}, "Watch for sedation, falls and larger BP rises"),
        ([], {"birth": "1958-05-11"}, "the US label starts all adults at 56 mg"),
        (
            [
                f.condition(
                    "aud", P, ("F10.21", "Alcohol dependence, in remission"), onset="2015-01-01"
                )
            ],
            {},
            "Assess and monitor for misuse",
        ),
    ],
)
def test_every_caution_names_what_to_do(client, extra, kw, phrase) -> None:
    [eligibility] = call(client, [*patient(**kw), *extra])
    assert assessment(eligibility)["decision"] == "candidate-caution"
    assert phrase in text(eligibility)


def test_the_starting_dose_at_65_follows_the_sites_jurisdiction(make_app) -> None:
    client = make_app(clinical={"starting_dose_jurisdiction": "EU"}).test_client()
    [eligibility] = call(client, patient(birth="1958-05-11"))
    assert "the EU SmPC starts at 28 mg at 65 and over" in text(eligibility)
    cards = call(client, patient(birth="1958-05-11"), "order-sign", [f.spravato_draft("d1", P)])
    assert "65 or over: the EU SmPC starts at 28 mg" in text(card(cards, "order-checklist"))


# 3. Dangerous blood pressure ----------------------------------------------------------------


def test_a_crisis_reading_today_gets_its_own_critical_card(client) -> None:
    reading = f.bp_at("bp-now", P, 184, 112, "2026-03-02", "08:00:00")
    cards = call(client, [*patient(blood_pressure=None), reading])
    pressure = card(cards, "blood-pressure")
    assert pressure["indicator"] == "critical" and reasons(pressure) == {"bp-hypertensive-crisis"}
    assert "Recheck BP now" in pressure["summary"]
    assert "target-organ damage" in text(pressure)
    eligibility = card(cards, "ketamine-eligibility")
    assert (eligibility["indicator"], assessment(eligibility)["decision"]) == ("warning", "defer")


def test_an_older_crisis_reading_asks_for_a_recheck_today(client) -> None:
    cards = call(client, patient(blood_pressure=(184, 112)))
    assert card(cards, "blood-pressure")["summary"].startswith("Recheck BP today")


def test_severe_bp_in_pregnancy_asks_for_urgent_obstetric_evaluation(client) -> None:
    resources = [
        *patient(blood_pressure=None),
        f.pregnancy_status("preg", P, True, f.ago(10)),
        f.bp_at("bp-now", P, 164, 112, "2026-03-02", "08:00:00"),
    ]
    cards = call(client, resources)
    pressure = card(cards, "blood-pressure")
    assert reasons(pressure) == {"bp-severe-pregnancy"}
    assert "Urgent obstetric evaluation" in pressure["summary"]
    assert assessment(card(cards, "ketamine-eligibility"))["decision"] == "contraindicated"


def test_severe_bp_within_six_weeks_of_delivery_uses_the_pregnancy_threshold(client) -> None:
    resources = [
        *patient(blood_pressure=None),
        f.condition(
            "del", P, ("Z39.2", "Encounter for routine postpartum follow-up"), recorded=f.ago(20)
        ),
        f.bp_at("bp-now", P, 162, 100, "2026-03-02", "08:00:00"),
    ]
    assert reasons(card(call(client, resources), "blood-pressure")) == {"bp-severe-pregnancy"}


def test_no_blood_pressure_card_for_a_patient_out_of_scope(client) -> None:
    resources = [
        f.patient(P, "Pat", "Nguyen", "1970-01-15", "male"),
        f.bp_at("bp-now", P, 190, 125, "2026-03-02", "08:00:00"),
    ]
    assert call(client, resources) == []


# 4. ECT and TMS checks that agree with themselves ------------------------------------------

STATUS_INDICATOR = {
    "hard-stop": "critical",
    "high-risk": "warning",
    "caution": "warning",
    "no-concern": "info",
}


def neuromodulation(client, extra, kind):
    [c] = call(client, [*patient(), *extra], "order-sign", [f.neuromodulation_draft("n1", P, kind)])
    status = assessment(c)["neuromodulation"]["status"]
    assert assessment(c)["neuromodulation"]["procedure"] == kind
    assert c["indicator"] == STATUS_INDICATOR[status]
    return c, status


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            [f.condition("ci", P, ("Z96.21", "Cochlear implant status"), recorded="2018-01-01")],
            id="cochlear-implant",
        ),
        pytest.param(
            [
                f.procedure(
                    "clip",
                    P,
                    (
                        f.ICD_PCS,
                        "03VG0CZ",
                        "Restriction of Intracranial Artery with Extraluminal Device, Open "
                        "Approach",
                    ),
                    "2019-06-01",
                )
            ],
            id="aneurysm-clip-procedure",
        ),
        pytest.param(
            [
                f.procedure(
                    "vns",
                    P,
                    (f.SCT, "445319001", "Insertion of vagal nerve stimulator"),
                    "2020-06-01",
                )
            ],
            id="vagus-stimulator",
        ),
    ],
)
def test_tms_with_a_device_in_the_head_is_a_hard_stop_with_a_delete(client, extra) -> None:
    c, status = neuromodulation(client, extra, "tms")
    assert status == "hard-stop" and "tms-metal-implant" in reasons(c)
    assert c["suggestions"][0]["actions"][0] == {
        "type": "delete",
        "description": "Remove the draft TMS order",
        "resourceId": "ServiceRequest/n1",
    }


@pytest.mark.parametrize(
    ("code", "reason", "phrase"),
    [
        (
            ("Z96.82", "Presence of neurostimulator"),
            "tms-device-site-unknown",
            "Confirm the device's location",
        ),
        (
            ("Z95.0", "Presence of cardiac pacemaker"),
            "cardiac-implanted-device",
            "Ask for cardiology input",
        ),
    ],
)
def test_devices_outside_the_head_are_a_tms_caution(client, code, reason, phrase) -> None:
    c, status = neuromodulation(client, [f.condition("dev", P, code, recorded="2020-01-01")], "tms")
    assert (status, reasons(c)) == ("caution", {reason})
    assert phrase in text(c)


def test_a_cardiac_device_is_an_ect_caution(client) -> None:
    device = f.condition(
        "dev",
        P,
        ("Z95.810", "Presence of automatic (implantable) cardiac defibrillator"),
        recorded="2020-01-01",
    )
    c, status = neuromodulation(client, [device], "ect")
    assert (status, reasons(c)) == ("caution", {"cardiac-implanted-device"})


def test_ect_after_a_recent_mi_is_high_risk_and_never_contraindicated(client) -> None:
    mi = f.condition(
        "mi", P, ("I21.4", "Non-ST elevation (NSTEMI) myocardial infarction"), onset=f.ago(30)
    )
    c, status = neuromodulation(client, [mi], "ect")
    assert status == "high-risk" and "ect-recent-mi" in reasons(c)
    assert "no absolute contraindications" in text(c) and "anaesthesia" in text(c)
    assert "contraindicated" not in text(c).lower().replace("no absolute contraindications", "")


def test_ect_with_brain_metastasis_is_high_risk(client) -> None:
    metastasis = f.condition(
        "met", P, ("C79.31", "Secondary malignant neoplasm of brain"), onset="2025-11-01"
    )
    c, status = neuromodulation(client, [metastasis], "ect")
    assert (status, reasons(c)) == ("high-risk", {"ect-raised-icp"})


def test_an_ect_order_coded_in_icd10pcs_is_recognised(client) -> None:
    order = f.neuromodulation_draft("n1", P, "ect")
    order["code"] = {
        "coding": [
            {
                "system": f.ICD_PCS,
                "code": "GZB3ZZZ",
                "display": "Electroconvulsive Therapy, Bilateral-Multiple Seizure",
            }
        ]
    }
    assert topics(call(client, patient(), "order-sign", [order])) == ["neuromodulation-safety"]


def psychotic_patient() -> list[dict[str, Any]]:
    return patient(
        mdd=(
            ("F33.3", "Major depressive disorder, recurrent, severe with psychotic symptoms"),
            ("28475009", "Severe recurrent major depression with psychotic features (disorder)"),
        )
    )


def test_psychotic_depression_is_offered_ect_and_no_tms(client) -> None:
    [eligibility] = call(client, psychotic_patient())
    assert assessment(eligibility)["decision"] == "not-recommended"
    codes = suggested_codes([eligibility])
    assert "ect-consultation" in codes and "tms-evaluation" not in codes
    assert "an antidepressant with an antipsychotic" in text(eligibility)


def test_a_tms_order_in_psychotic_depression_is_a_caution(client) -> None:
    psychotic = f.condition(
        "psy", P, ("F33.3", "Major depressive disorder, recurrent, severe with psychotic symptoms")
    )
    c, status = neuromodulation(client, [psychotic], "tms")
    assert status == "caution" and "tms-psychotic-features" in reasons(c)


def test_referrals_use_referral_codes_not_treatment_codes(client) -> None:
    codes = suggested_codes(call(client, patient())) | suggested_codes(
        call(client, psychotic_patient())
    )
    assert "183524004" in codes
    assert not codes & {"90867", "90868", "90869", "90870"}


def test_urgent_suicide_risk_does_not_present_ect_as_the_only_option(client) -> None:
    cards = call(client, [*patient(), f.item9("i9", P, 3, f.ago(2))])
    words = text(card(cards, "suicide-risk"))
    assert "does not rule out esketamine" in words and "ECT is also an option" in words


# 5. Verified knowledge -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        (
            "T43.222A",
            "Poisoning by selective serotonin reuptake inhibitors, intentional self-harm, "
            "initial encounter",
        ),
        ("X78.9XXA", "Intentional self-harm by unspecified sharp object, initial encounter"),
        ("T36.92XA", "Poisoning by unspecified systemic antibiotic, intentional self-harm"),
        ("T71.162A", "Asphyxiation due to hanging, intentional self-harm, initial encounter"),
    ],
)
def test_intentional_self_harm_within_30_days_is_urgent(client, code) -> None:
    harm = f.condition("sh", P, code, onset=f.ago(5), status="resolved")
    suicide = card(call(client, [*patient(), harm]), "suicide-risk")
    assert suicide["indicator"] == "critical" and reasons(suicide) == {"suicide-risk-urgent"}


def test_a_tricyclic_below_the_atrq_minimum_is_not_an_adequate_trial(client) -> None:
    amitriptyline = f.med_request(
        "ami",
        P,
        "856845",
        "amitriptyline hydrochloride 50 MG Oral Tablet",
        start=f.ago(200),
        end=f.ago(120),
        tablets=2,
    )
    [eligibility] = call(client, [*patient(second_trial=False), amitriptyline])
    trials = {t["medication"]: t["status"] for t in assessment(eligibility)["trials"]}
    assert trials["amitriptyline"] == "subtherapeutic-dose"


ESKETAMINE_STEPS = [
    "REMS",
    "enrolled before the first dose",
    "56 mg, alone or with an oral antidepressant",
    "84 mg, with an oral antidepressant",
    "about 40 minutes after",
    "At least 2 hours",
    "until the next day, after a restful sleep",
    "Schedule III",
    "at least 1 hour before",
    "sedation, dissociation, respiratory depression, abuse and misuse, and suicidal thoughts",
]


def test_an_esketamine_order_gets_the_rems_and_label_checklist(client) -> None:
    cards = call(client, patient(gender="male"), "order-sign", [f.spravato_draft("d1", P)])
    checklist = card(cards, "order-checklist")
    assert checklist["indicator"] == "info" and reasons(checklist) == {"rems-requirements"}
    for step in ESKETAMINE_STEPS:
        assert step in text(checklist), step
    rows = [line for line in checklist["detail"].splitlines() if line.startswith("| ")]
    assert 2 <= len(rows) <= 9  # the header and at most 8 steps


def test_an_iv_ketamine_order_gets_its_consent_and_dose_checklist(client) -> None:
    cards = call(
        client, patient(gender="male"), "order-sign", [f.iv_ketamine_draft("d1", P, 35, reason=MDD)]
    )
    checklist = text(card(cards, "order-checklist"))
    for step in (
        "off-label",
        "0.5 mg/kg infused over about 40 minutes",
        "35 mg over 40 minutes = 0.50 mg/kg of 70 kg",
        "within the dose band",
    ):
        assert step in checklist, step


def test_the_dose_summary_and_checklist_follow_the_sites_dose_band(make_app) -> None:
    """60 mg for 70 kg is 0.86 mg/kg: inside the default band, outside a site's 0.4-0.8."""
    client = make_app(clinical={"ketamine_dose_band_mg_per_kg": [0.4, 0.8]}).test_client()
    cards = call(client, patient(), "order-sign", [f.iv_ketamine_draft("d1", P, 60, reason=MDD)])
    eligibility = card(cards, "ketamine-eligibility")
    assert eligibility["summary"] == (
        "Check the IV ketamine order before signing: dose 0.86 mg/kg, outside 0.4-0.8 mg/kg"
    )
    assert "outside the dose band 0.4-0.8 mg/kg" in text(card(cards, "order-checklist"))


def test_a_hard_stop_gets_no_checklist(client) -> None:
    cards = call(
        client,
        [*patient(), f.pregnancy_status("preg", P, True, f.ago(10))],
        "order-sign",
        [f.spravato_draft("d1", P)],
    )
    assert "order-checklist" not in topics(cards)


UNSUPPORTED = (
    "14 days",
    "within about 40 minutes",
    "$300",
    "sex drive",
    "7% of Americans",
    "clinical" + ".md",  # a card once cited a file outside the repository
)


@pytest.mark.parametrize(
    ("hook", "drafts"),
    [
        ("patient-view", None),
        ("order-sign", lambda: [f.spravato_draft("d1", P)]),
        ("order-sign", lambda: [f.iv_ketamine_draft("d1", P, 35, reason=MDD)]),
    ],
)
def test_no_card_carries_patient_teaching_or_unsupported_claims(client, hook, drafts) -> None:
    cards = call(
        client,
        [
            *patient(),
            f.med_request(
                "lor", P, "197901", "lorazepam 1 MG Oral Tablet", start=f.ago(90), status="active"
            ),
        ],
        hook,
        drafts() if drafts else None,
    )
    for c in cards:
        for phrase in UNSUPPORTED:
            assert phrase not in text(c), (phrase, c["summary"])


# 6. The project's own clinical basis ---------------------------------------------------------


def test_nothing_in_the_repository_cites_files_outside_it() -> None:
    outside = re.compile(
        "|".join(re.escape(n) for n in ("clinical" + ".md", "design" + ".md", "../" + "shared"))
    )
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        path
        for path in tracked
        if not path.endswith((".png", ".sqlite3"))
        and outside.search((ROOT / path).read_text(encoding="utf-8", errors="ignore"))
    ]
    assert offenders == []


def test_the_clinical_basis_covers_every_value_set_and_setting() -> None:
    from cds_service.clinical.settings import ClinicalSettings
    from cds_service.record.terminology import default_terminology

    basis = (ROOT / "docs" / "clinical-basis.md").read_text()
    missing = [v for v in default_terminology().valuesets if f"`{v}`" not in basis]
    missing += [s for s in ClinicalSettings.model_fields if f"`{s}`" not in basis]
    assert missing == []


# 7. Cases a second, independent clinical review found ---------------------------------------

ESK_DAYS = (20, 17, 13, 10, 6, 3)  # twice weekly, still in induction


def esketamine_course(p: str = P, days=ESK_DAYS, **kw: Any) -> list[dict[str, Any]]:
    return [
        *patient(**kw),
        before_course(days=days[0] + 2),
        *(f.esketamine_administration(f"s{i}", p, f.ago(d)) for i, d in enumerate(days)),
    ]


@pytest.mark.parametrize(
    "hard_stop",
    [
        pytest.param(lambda: f.pregnancy_status("preg", P, True, f.ago(1)), id="pregnant"),
        pytest.param(
            lambda: f.condition(
                "an", P, ("I67.1", "Cerebral aneurysm, nonruptured"), recorded=f.ago(5)
            ),
            id="aneurysm",
        ),
    ],
)
def test_a_hard_stop_during_a_course_shows_whatever_the_trd_status(client, hard_stop) -> None:
    """Esketamine for acute suicidal ideation after one failed trial: TRD is not met, and a
    pregnancy or aneurysm found mid-course must still stop it."""
    resources = [*esketamine_course(second_trial=False), hard_stop()]
    cards = call(client, resources)
    eligibility = card(cards, "ketamine-eligibility")
    assert (eligibility["indicator"], assessment(eligibility)["decision"]) == (
        "critical",
        "contraindicated",
    )
    assert eligibility["summary"].startswith("Stop ketamine or esketamine")
    course = card(cards, "ketamine-course")
    assert course["indicator"] == "warning" and "Next session due" not in text(course)
    assert "give no further session" in text(course).lower()


@pytest.mark.parametrize(
    "draft",
    [
        lambda: f.iv_ketamine_draft("d1", P, 35, reason=MDD),
        lambda: f.neuromodulation_draft("d1", P, "tms"),
    ],
)
def test_the_order_hooks_show_the_suicide_card(client, draft) -> None:
    cards = call(client, [*patient(), f.item9("i9", P, 3, f.ago(0))], "order-sign", [draft()])
    assert topics(cards)[0] == "suicide-risk" and cards[0]["indicator"] == "critical"


def aneurysm() -> dict[str, Any]:
    return f.condition("an", P, ("I67.1", "Cerebral aneurysm, nonruptured"), recorded="2024-03-25")


def iv_order(text: str, dose: dict[str, Any], rate: dict[str, Any] | None) -> dict[str, Any]:
    order = f.iv_ketamine_draft("d1", P, 35, minutes=None)
    dosage = order["dosageInstruction"][0]
    dosage["text"] = text
    dosage["timing"] = {"repeat": {"count": 1}}
    dosage["doseAndRate"] = [{"doseQuantity": dose, **({"rateQuantity": rate} if rate else {})}]
    return order


@pytest.mark.parametrize(
    ("order", "length_unknown"),
    [
        pytest.param(
            lambda: iv_order(
                "Ketamine 35 mg in sodium chloride 0.9% 100 mL IV, infuse at 150 mL/h",
                {"value": 35, "unit": "mg", "code": "mg"},
                {"value": 150, "unit": "mL/h", "code": "mL/h"},
            ),
            False,
            id="bag-in-ml-per-hour",
        ),
        pytest.param(
            lambda: iv_order(
                "Ketamine 0.5 mg/kg IV at 0.75 mg/kg/h",
                {"value": 0.5, "unit": "mg/kg", "code": "mg/kg"},
                {"value": 0.75, "unit": "mg/kg/h", "code": "mg/kg/h"},
            ),
            False,
            id="mg-per-kg-per-hour",
        ),
        pytest.param(
            lambda: iv_order("Ketamine 35 mg IV", {"value": 35, "unit": "mg", "code": "mg"}, None),
            True,
            id="no-length",
        ),
    ],
)
def test_common_iv_order_shapes_get_their_hard_stop(client, order, length_unknown) -> None:
    cards = call(client, [*patient(), aneurysm()], "order-sign", [order()])
    eligibility = card(cards, "ketamine-eligibility")
    assert assessment(eligibility)["decision"] == "contraindicated"
    assert ("infusion-length-unknown" in reasons(eligibility)) is length_unknown


def test_an_iv_course_charted_per_kg_is_a_course_and_its_non_response_counts(client) -> None:
    def session(i: int, d: int) -> dict[str, Any]:
        out = f.ketamine_session(f"k{i}", P, f.ago(d), dose_mg=None)
        out["dosage"]["dose"] = {"value": 0.5, "unit": "mg/kg", "code": "mg/kg"}
        out["dosage"]["rateQuantity"] = {"value": 0.75, "unit": "mg/kg/h", "code": "mg/kg/h"}
        return out

    resources = [
        *no_recent_phq9(patient()),
        before_course(),
        *(session(i, d) for i, d in enumerate(IV_DAYS)),
        f.phq9("after", P, 18, f.ago(3)),
    ]
    cards = call(client, resources)
    assert "non-response" in reasons(card(cards, "ketamine-course"))
    assert "ketamine-evaluation" not in suggested_codes(cards)


def test_an_interrupted_esketamine_induction_is_overdue_not_a_non_response(client) -> None:
    resources = [
        *patient(),
        f.phq9("before", P, 18, f.ago(42)),
        f.esketamine_administration("s1", P, f.ago(40)),
        f.esketamine_administration("s2", P, f.ago(37)),
        f.phq9("after", P, 17, f.ago(5)),
    ]
    course = card(call(client, resources), "ketamine-course")
    assert {"induction-in-progress", "session-overdue"} <= reasons(course)
    assert "non-response" not in reasons(course)
    cards = call(client, resources, "order-sign", [f.spravato_draft("d1", P)])
    assert "non-response" not in {
        r["code"] for c in cards for r in assessment(c).get("reasons", [])
    }


@pytest.mark.parametrize("days_ago", [25, 100])
def test_a_delivery_ends_the_pregnancy_evidence(client, days_ago) -> None:
    when = f.ago(days_ago)
    delivery = [
        f.condition(
            "o80", P, ("O80", "Encounter for full-term uncomplicated delivery"), recorded=when
        ),
        f.condition("z3a", P, ("Z3A.39", "39 weeks gestation of pregnancy"), recorded=when),
        f.condition("z37", P, ("Z37.0", "Single live birth"), recorded=when),
        f.condition(
            "z34",
            P,
            ("Z34.83", "Encounter for supervision of other normal pregnancy, third trimester"),
            recorded=f.ago(days_ago + 60),
        ),
    ]
    cards = call(
        client,
        [*patient(blood_pressure=None), *delivery, f.bp_at("bp", P, 162, 98, f.ago(0), "08:00:00")],
    )
    eligibility = card(cards, "ketamine-eligibility")
    assert "pregnancy" not in reasons(eligibility)
    pressure = [c for c in cards if c["source"]["topic"]["code"] == "blood-pressure"]
    assert [reasons(c) for c in pressure] == ([{"bp-severe-pregnancy"}] if days_ago <= 42 else [])


def test_ketamine_given_for_pain_is_not_a_course(client) -> None:
    dose = f.ketamine_administration("k1", P, f.ago(20), dose_mg=21, minutes=30)
    dose["dosage"]["text"] = "ketamine 0.3 mg/kg (21 mg) IV in 100 mL NS over 30 minutes for pain"
    assert topics(call(client, [*patient(), dose])) == ["ketamine-eligibility"]


def test_a_switch_from_iv_ketamine_to_esketamine_is_two_courses(client) -> None:
    resources = [
        *patient(),
        f.phq9("before-iv", P, 20, f.ago(52)),
        *(f.ketamine_administration(f"k{i}", P, f.ago(d + 26)) for i, d in enumerate(IV_DAYS)),
        f.phq9("after-iv", P, 19, f.ago(30)),
        *(
            f.esketamine_administration(f"s{i}", P, f.ago(d))
            for i, d in enumerate((16, 13, 9, 6, 2))
        ),
    ]
    course = card(call(client, resources), "ketamine-course")
    assert course["summary"].startswith("Continue esketamine: 5 sessions")
    assert "off-protocol-frequency" not in reasons(course)


def test_esketamine_charted_per_device_is_one_session_a_visit(client) -> None:
    devices = []
    for i, d in enumerate(ESK_DAYS):
        for n in (1, 2):
            one = f.esketamine_administration(f"s{i}-{n}", P, f.ago(d))
            one["medicationCodeableConcept"] = {"text": "esketamine 28 MG nasal spray device"}
            devices.append(one)
    course = card(
        call(client, [*patient(), before_course(days=ESK_DAYS[0] + 2), *devices]), "ketamine-course"
    )
    assert "6 sessions" in course["summary"] and "off-protocol-frequency" not in reasons(course)


def test_a_baseline_without_a_later_phq9_is_named(client) -> None:
    course = card(call(client, no_recent_phq9(esketamine_course())), "ketamine-course")
    assert "PHQ-9 before the course: 20 on" in text(course)
    assert "No baseline" not in text(course)


def test_a_completed_induction_without_a_phq9_since_asks_for_one(client) -> None:
    resources = iv_course(latest=None, extra=[f.phq9("mid", P, 17, f.ago(18))])
    course = card(call(client, resources), "ketamine-course")
    assert "response-unmeasured" in reasons(course) and course["indicator"] == "warning"
    assert "Measure a PHQ-9 before the next session" in text(course)


def test_esketamine_for_acute_suicidal_ideation_does_not_need_trd(client) -> None:
    resources = [
        *patient(second_trial=False),
        f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(20), status="active"),
        f.item9("i9", P, 3, f.ago(0)),
    ]
    cards = call(client, resources, "order-sign", [f.spravato_draft("d1", P)])
    eligibility = card(cards, "ketamine-eligibility")
    assert assessment(eligibility)["decision"] == "candidate"
    assert "indication-suicidal-ideation" in reasons(eligibility)
    assert "MDD with acute suicidal ideation" in eligibility["summary"]
    without = call(
        client,
        [r for r in resources if r["id"] != "esc"],
        "order-sign",
        [f.spravato_draft("d1", P)],
    )
    assert "oral-antidepressant-needed" in reasons(card(without, "ketamine-eligibility"))


def test_an_iv_push_for_depression_is_flagged(client) -> None:
    cards = call(
        client,
        patient(),
        "order-sign",
        [f.iv_ketamine_draft("d1", P, 35, minutes=None, reason=MDD)],
    )
    eligibility = card(cards, "ketamine-eligibility")
    assert "infusion-too-fast" in reasons(eligibility) and eligibility["indicator"] == "warning"


def test_an_im_ketamine_order_for_depression_is_named_for_its_route(client) -> None:
    order = f.iv_ketamine_draft("d1", P, 35, minutes=None, reason=MDD)
    order["dosageInstruction"][0]["route"] = {
        "coding": [{"system": f.SCT, "code": "78421000", "display": "Intramuscular route"}]
    }
    order["dosageInstruction"][0]["text"] = "35 mg IM"
    cards = call(client, patient(), "order-sign", [order])
    assert "non-iv ketamine" in card(cards, "ketamine-eligibility")["summary"].lower()
    assert "Not IV: the studied regimen is IV" in text(card(cards, "order-checklist"))


def test_cirrhosis_says_not_recommended_is_the_services_rule(client) -> None:
    cirrhosis = f.condition(
        "cir", P, ("K74.60", "Unspecified cirrhosis of liver"), onset="2023-05-01"
    )
    [eligibility] = call(client, [*patient(), cirrhosis])
    assert "this service's own rule" in text(eligibility)


def test_course_interactions_and_psychotic_alternatives_say_what_is_true(client) -> None:
    lorazepam = f.med_request(
        "lor", P, "197901", "lorazepam 1 MG Oral Tablet", start=f.ago(90), status="active"
    )
    interaction = card(call(client, iv_course(extra=[lorazepam])), "drug-interaction")
    assert "each session of the ketamine course" in text(interaction)
    assert "each ketamine dose" not in text(interaction)
    [eligibility] = call(client, psychotic_patient())
    assert "Consider ECT, or an antidepressant with an antipsychotic" in text(eligibility)
    assert "Consider ECT or TMS" not in text(eligibility)


def test_an_orders_own_checks_stay_off_the_course_card(client) -> None:
    """During a course, the order checks of a new draft belong to that order's cards."""
    cards = call(client, iv_course(), "order-sign", [f.iv_ketamine_draft("d1", P, 200, reason=MDD)])
    course = card(cards, "ketamine-course")
    assert "mg/kg" not in text(course) and "Still applies" not in text(course)
    assert "outside the dose band" in text(card(cards, "order-checklist"))

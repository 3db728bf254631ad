"""Contraindications, BP and age classes, suicide risk, precedence and the patient-view gate."""

from __future__ import annotations

import pytest

from cds_service.clinical.contraindications import contraindications
from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.suicide import suicide_risk
from cds_service.clinical.vitals import age_reasons, blood_pressure_reason
from tests import fhir as f

P = "p1"
PATIENT = f.patient(P, "Alex", "Kim", "1985-01-01", "female")
SETTINGS = ClinicalSettings()


def codes(reasons) -> set[str]:
    return {r.code for r in reasons}


def ci(record_from, terminology, *resources) -> set[str]:
    return codes(contraindications(record_from(PATIENT, *resources), terminology, SETTINGS))


@pytest.mark.parametrize(
    ("reading", "expected"),
    [
        ((140, 90), None),
        ((141, 90), "bp-above-140-90"),
        ((140, 91), "bp-above-140-90"),
        ((159, 99), "bp-above-140-90"),
        ((160, 99), "bp-poorly-controlled"),
        ((159, 100), "bp-poorly-controlled"),
        ((179, 119), "bp-poorly-controlled"),
        ((180, 110), "bp-hypertensive-crisis"),
        ((150, 120), "bp-hypertensive-crisis"),
    ],
)
def test_bp_reading_maps_to_reason(record_from, terminology, reading, expected) -> None:
    reason = blood_pressure_reason(
        record_from(PATIENT, f.bp("bp", P, *reading, f.ago(3))), terminology, SETTINGS
    )
    assert (reason.code if reason else None) == expected


def test_bp_older_than_the_window_is_missing(record_from, terminology) -> None:
    record = record_from(PATIENT, f.bp("bp", P, 120, 80, f.ago(31)))
    assert blood_pressure_reason(record, terminology, SETTINGS).code == "bp-missing"


def test_separate_systolic_and_diastolic_observations_are_paired(record_from, terminology) -> None:
    def single(oid, code, value):
        obs = f._observation(
            oid,
            P,
            code,
            code,
            f"{f.ago(2)}T08:00:00Z",
            category="vital-signs",
            valueQuantity={"value": value, "unit": "mmHg"},
        )
        return obs

    record = record_from(PATIENT, single("s", "8480-6", 162), single("d", "8462-4", 88))
    assert blood_pressure_reason(record, terminology, SETTINGS).code == "bp-poorly-controlled"


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("2008-03-03", {"age-under-18"}),
        ("2008-03-02", set()),
        ("1961-03-03", set()),
        ("1961-03-02", {"age-65-plus"}),
    ],
)
def test_age_boundaries_17_18_64_65(record_from, birth, expected) -> None:
    record = record_from(f.patient(P, "A", "B", birth, "male"))
    assert codes(age_reasons(record, SETTINGS)) == expected


@pytest.mark.parametrize(
    ("icd", "reason"),
    [
        (("I71.2", "Thoracic aortic aneurysm, without rupture"), "aneurysmal-vascular-disease"),
        (("Q28.2", "Arteriovenous malformation of cerebral vessels"), "arteriovenous-malformation"),
        (
            ("I61.9", "Nontraumatic intracerebral hemorrhage, unspecified"),
            "intracerebral-hemorrhage-history",
        ),
        (
            (
                "S06.360A",
                "Traumatic hemorrhage of cerebrum, unspecified, without loss of "
                "consciousness, initial encounter",
            ),
            "intracerebral-hemorrhage-history",
        ),
        (("F20.9", "Schizophrenia, unspecified"), "psychosis-history"),
        (
            ("F12.259", "Cannabis dependence with psychotic disorder, unspecified"),
            "psychosis-history",
        ),
        (("I63.9", "Cerebral infarction, unspecified"), "stroke-history"),
        (("Z86.73", "Personal history of TIA"), "stroke-history"),
    ],
)
def test_history_contraindications_count_in_any_status(
    record_from, terminology, icd, reason
) -> None:
    resolved = f.condition("c", P, icd, onset="2015-01-01", status="resolved")
    assert reason in ci(record_from, terminology, resolved)


def test_fatty_liver_alone_and_inactive_liver_disease_do_not_exclude(
    record_from, terminology
) -> None:
    fatty = f.condition("c1", P, ("K76.0", "Fatty (change of) liver, not elsewhere classified"))
    old = f.condition("c2", P, ("K74.60", "Unspecified cirrhosis of liver"), status="resolved")
    assert "liver-disease" not in ci(record_from, terminology, fatty, old)
    active = f.condition("c3", P, ("K74.60", "Unspecified cirrhosis of liver"))
    assert "liver-disease" in ci(record_from, terminology, active)


def test_nicotine_dependence_is_not_substance_use(record_from, terminology) -> None:
    nicotine = f.condition("c", P, ("F17.210", "Nicotine dependence, cigarettes, uncomplicated"))
    assert ci(record_from, terminology, nicotine) == set()


def test_substance_use_in_remission_by_code_or_by_status(record_from, terminology) -> None:
    by_code = f.condition("c1", P, ("F11.21", "Opioid dependence, in remission"))
    by_status = f.condition(
        "c2", P, ("F12.20", "Cannabis dependence, uncomplicated"), status="remission"
    )
    assert ci(record_from, terminology, by_code) == {"substance-use-in-remission"}
    assert ci(record_from, terminology, by_status) == {"substance-use-in-remission"}


@pytest.mark.parametrize(("days", "expected"), [(90, True), (91, False)])
def test_myocardial_infarction_defers_for_90_days(record_from, terminology, days, expected) -> None:
    mi = f.condition("mi", P, ("I21.4", "NSTEMI"), onset=f.ago(days))
    assert ("uncontrolled-cardiovascular-disease" in ci(record_from, terminology, mi)) is expected


def test_acute_heart_failure_defers_while_active(record_from, terminology) -> None:
    hf = f.condition(
        "hf", P, ("I50.21", "Acute systolic (congestive) heart failure"), onset="2020-01-01"
    )
    assert "uncontrolled-cardiovascular-disease" in ci(record_from, terminology, hf)


def test_postpartum_codes_are_lactation_not_pregnancy(record_from, terminology) -> None:
    postpartum = f.condition("c", P, ("O92.70", "Unspecified disorders of lactation"))
    assert ci(record_from, terminology, postpartum) == {"lactation"}


def test_pregnancy_evidence_and_later_negatives(record_from, terminology) -> None:
    preg = f.pregnancy_status("ps", P, True, f.ago(60))
    assert "pregnancy" in ci(record_from, terminology, preg)
    assert "pregnancy" not in ci(
        record_from, terminology, f.pregnancy_status("old", P, True, f.ago(91))
    )
    later_negative = f.hcg("neg", P, False, f.ago(10))
    assert "pregnancy" not in ci(record_from, terminology, preg, later_negative)
    assert "pregnancy" in ci(record_from, terminology, f.hcg("pos", P, True, f.ago(30)))
    assert "pregnancy" not in ci(record_from, terminology, f.hcg("pos", P, True, f.ago(31)))
    assert "pregnancy" in ci(
        record_from,
        terminology,
        f.condition("z", P, ("Z33.1", "Pregnant state, incidental"), recorded=f.ago(100)),
    )


def test_ketamine_hypersensitivity_needs_an_allergy_not_an_icd_code(
    record_from, terminology
) -> None:
    icd_only = f.condition(
        "t", P, ("T41.295A", "Adverse effect of other general anesthetics, initial encounter")
    )
    assert ci(record_from, terminology, icd_only) == set()
    by_snomed = f.allergy("a", P, (f.SCT, "373464007", "Ketamine (substance)"))
    by_text = {**f.allergy("b", P, (f.SCT, "1", "x")), "code": {"text": "Spravato - syncope"}}
    assert ci(record_from, terminology, by_snomed) == {"ketamine-hypersensitivity"}
    assert ci(record_from, terminology, by_text) == {"ketamine-hypersensitivity"}
    refuted = f.allergy("c", P, (f.RXNORM, "6130", "ketamine"), verification="refuted")
    assert ci(record_from, terminology, refuted) == set()


@pytest.mark.parametrize(
    ("score", "days", "expected"),
    [
        (2, 30, "suicide-risk-urgent"),
        (3, 1, "suicide-risk-urgent"),
        (1, 5, "suicide-risk-assessment-required"),
        (0, 5, None),
        (2, 31, None),
    ],
)
def test_item9_triggers(record_from, terminology, score, days, expected) -> None:
    reason = suicide_risk(
        record_from(PATIENT, f.item9("i9", P, score, f.ago(days))), terminology, SETTINGS
    )
    assert (reason.code if reason else None) == expected


def test_suicidal_ideation_and_attempts_within_30_days_are_urgent(record_from, terminology) -> None:
    ideation = f.condition("si", P, ("R45.851", "Suicidal ideations"), recorded=f.ago(20))
    old = f.condition("si", P, ("R45.851", "Suicidal ideations"), recorded=f.ago(45))
    attempt = f.condition(
        "sa",
        P,
        ("T14.91XA", "Suicide attempt, initial encounter"),
        onset=f.ago(12),
        status="resolved",
    )
    for resources, expected in [
        ((ideation,), "suicide-risk-urgent"),
        ((old,), None),
        ((attempt,), "suicide-risk-urgent"),
    ]:
        reason = suicide_risk(record_from(PATIENT, *resources), terminology, SETTINGS)
        assert (reason.code if reason else None) == expected


TRD = [
    f.condition("mdd", P, *f.MDD_RECURRENT, onset=f.ago(500)),
    f.med_request("s", P, *f.SERTRALINE_100, start=f.ago(300), end=f.ago(230)),
    f.med_request("e", P, *f.ESCITALOPRAM_20, start=f.ago(200), end=f.ago(130)),
    f.phq9("now", P, 16, f.ago(5)),
    f.bp("bp", P, 120, 78, f.ago(5)),
]


@pytest.mark.parametrize(
    ("extra", "decision"),
    [
        ([], "candidate"),
        ([f.bp("bp2", P, 145, 85, f.ago(1))], "candidate-caution"),
        ([f.bp("bp2", P, 165, 85, f.ago(1))], "defer"),
        ([f.condition("st", P, ("I63.9", "Cerebral infarction, unspecified"))], "not-recommended"),
        (
            [
                f.condition("st", P, ("I63.9", "Cerebral infarction, unspecified")),
                f.bp("bp2", P, 165, 85, f.ago(1)),
            ],
            "not-recommended",
        ),
        (
            [f.pregnancy_status("ps", P, True, f.ago(3)), f.bp("bp2", P, 190, 125, f.ago(1))],
            "contraindicated",
        ),
        (
            [
                f.condition("ps", P, ("F20.9", "Schizophrenia, unspecified")),
                f.condition("bp", P, ("F31.9", "Bipolar disorder, unspecified")),
            ],
            "not-indicated",
        ),
    ],
)
def test_decision_precedence(record_from, assess_record, extra, decision) -> None:
    assert assess_record(record_from(PATIENT, *TRD, *extra)).decision == decision


def test_the_patient_view_gate_and_the_order_ladder(record_from, assess_record, draft) -> None:
    one_trial_with_aneurysm = [
        *TRD[:2],
        TRD[3],
        TRD[4],
        f.condition("an", P, ("I72.0", "Aneurysm of carotid artery")),
    ]
    record = record_from(PATIENT, *one_trial_with_aneurysm)
    viewed = assess_record(record)
    [spravato] = draft(
        f.med_request("d1", P, "2119391", "Spravato 56 MG Dose Kit", start=f.ago(0), status="draft")
    )
    ordered = assess_record(record, order=spravato)
    assert (viewed.trd.status, viewed.decision) == ("not-met", "not-trd")
    assert "aneurysmal-vascular-disease" in viewed.codes
    assert ordered.decision == "contraindicated"
    missing_bp = record_from(PATIENT, *TRD[:4])
    assert assess_record(missing_bp).decision == "indeterminate"
    assert "bp-missing" in assess_record(missing_bp).codes

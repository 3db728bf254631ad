"""Cases a clinical review found wrong or silent; each must now give the right answer."""

from __future__ import annotations

import pytest

from tests import fhir as f
from tests.scenarios import trd_base

P = "p1"


def assessment(record_from, assess_record, *resources, **kw):
    return assess_record(record_from(*resources), **kw)


def test_item9_answer_found_whatever_coding_comes_first(record_from, assess_record) -> None:
    item = f.item9("i9", P, 2, f.ago(3))
    item["valueCodeableConcept"]["coding"].insert(0, {"system": "urn:local", "code": "2"})
    texted = {
        **f.item9("i9b", P, 0, f.ago(2)),
        "valueCodeableConcept": {"text": "Nearly every day"},
    }
    for obs in (item, texted):
        result = assessment(record_from, assess_record, *trd_base(P), obs)
        assert result.suicide and result.suicide.code == "suicide-risk-urgent"


def test_the_latest_bp_of_the_day_is_the_one_judged(record_from, assess_record) -> None:
    crisis = f.bp("late", P, 190, 125, f.ago(1))
    crisis["effectiveDateTime"] = f"{f.ago(1)}T11:00:00-05:00"
    calm = f.bp("early", P, 130, 80, f.ago(1))
    calm["effectiveDateTime"] = f"{f.ago(1)}T08:00:00-05:00"
    for order in ((crisis, calm), (calm, crisis)):
        result = assessment(record_from, assess_record, *trd_base(P, blood_pressure=None), *order)
        assert result.decision == "defer" and "bp-hypertensive-crisis" in result.codes


@pytest.mark.parametrize(
    "code",
    [
        (f.RXNORM, "2119387", ""),
        (f.RXNORM, "238084", ""),
        ("http://hl7.org/fhir/sid/ndc", "50458-028-02", ""),
    ],
)
def test_an_allergy_coded_by_product_or_ndc_is_a_contraindication(
    record_from, assess_record, code
) -> None:
    allergy = f.allergy("a", P, code)
    allergy["code"] = {"coding": [{"system": code[0], "code": code[1]}]}
    result = assessment(record_from, assess_record, *trd_base(P), allergy)
    assert result.decision == "contraindicated"
    assert "ketamine-hypersensitivity" in result.codes


@pytest.mark.parametrize(
    ("condition", "reason", "decision"),
    [
        (
            f.condition("c", P, ("I16.1", "Hypertensive emergency"), recorded=f.ago(3)),
            "bp-hypertensive-crisis",
            "defer",
        ),
        (
            f.condition(
                "c", P, ("I62.01", "Nontraumatic acute subdural hemorrhage"), status="resolved"
            ),
            "other-intracranial-hemorrhage",
            "not-recommended",
        ),
        (
            f.condition(
                "c",
                P,
                (
                    "S06.5X0A",
                    "Traumatic subdural hemorrhage without loss of "
                    "consciousness, initial encounter",
                ),
                status="resolved",
            ),
            "other-intracranial-hemorrhage",
            "not-recommended",
        ),
        (
            f.condition("c", P, ("K76.0", "Fatty (change of) liver, not elsewhere classified")),
            "fatty-liver-disease",
            "candidate-caution",
        ),
        (f.condition("c", P, ("I21.4", "NSTEMI")), "uncontrolled-cardiovascular-disease", "defer"),
        (
            f.condition(
                "c",
                P,
                ("G45.9", "Transient cerebral ischemic attack, unspecified"),
                status="resolved",
            ),
            "stroke-history",
            "not-recommended",
        ),
        (
            f.condition(
                "c",
                P,
                (
                    "S06.370A",
                    "Contusion, laceration, and hemorrhage of cerebellum "
                    "without loss of consciousness, initial encounter",
                ),
            ),
            "intracerebral-hemorrhage-history",
            "contraindicated",
        ),
    ],
)
def test_conditions_the_first_version_missed(
    record_from, assess_record, condition, reason, decision
) -> None:
    result = assessment(record_from, assess_record, *trd_base(P), condition)
    assert reason in result.codes and result.decision == decision


def test_undated_active_ideation_asks_for_an_assessment(record_from, assess_record) -> None:
    ideation = f.condition("si", P, ("R45.851", "Suicidal ideations"))
    result = assessment(record_from, assess_record, *trd_base(P), ideation)
    assert result.suicide and result.suicide.code == "suicide-risk-assessment-required"


def test_no_birth_date_is_reported_not_assumed_adult(record_from, assess_record) -> None:
    resources = trd_base(P)
    resources[0] = {k: v for k, v in resources[0].items() if k != "birthDate"}
    result = assessment(record_from, assess_record, *resources)
    assert result.decision == "indeterminate" and "missing-birth-date" in result.codes


def test_mdd_in_remission_by_status_is_not_called_bipolar(record_from, assess_record) -> None:
    resources = trd_base(P)
    resources[1]["clinicalStatus"]["coding"][0]["code"] = "remission"
    result = assessment(record_from, assess_record, *resources)
    assert (result.trd.status, result.decision) == ("not-met", "not-trd")
    assert "bipolar-disorder" not in result.codes


def test_a_stopped_order_does_not_count_its_planned_duration(record_from, assess_record) -> None:
    resources = trd_base(P, second_trial=False)
    stopped = f.med_request(
        "esc",
        P,
        *f.ESCITALOPRAM_20,
        start=f.ago(60),
        end=f.ago(-30),
        status="stopped",
        status_reason="Stopped by patient after 1 week: nausea",
    )
    result = assessment(record_from, assess_record, *resources, stopped)
    statuses = {t.ingredient: t.status for t in result.trd.trials}
    assert statuses["escitalopram"] == "unknown-duration"
    assert result.decision != "candidate"


def test_a_titration_counts_each_step_at_its_own_dose(record_from, assess_record) -> None:
    titration = f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(200))
    low = {
        **titration["dosageInstruction"][0],
        "sequence": 1,
        "timing": {
            "repeat": {
                "frequency": 1,
                "period": 1,
                "periodUnit": "d",
                "boundsPeriod": {"start": f.ago(200), "end": f.ago(150)},
            }
        },
        "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}],
    }
    high = {
        **low,
        "sequence": 2,
        "timing": {
            "repeat": {
                "frequency": 1,
                "period": 1,
                "periodUnit": "d",
                "boundsPeriod": {"start": f.ago(150), "end": f.ago(140)},
            }
        },
        "doseAndRate": [{"doseQuantity": {"value": 20, "unit": "mg"}}],
    }
    titration["dosageInstruction"] = [low, high]
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), titration)
    assert {t.ingredient: t.status for t in result.trd.trials}["escitalopram"] == "too-short"


def test_oral_selegiline_is_not_an_antidepressant_trial(record_from, assess_record) -> None:
    eldepryl = f.med_request(
        "sel",
        P,
        "859186",
        "selegiline hydrochloride 5 MG Oral Capsule",
        start=f.ago(300),
        end=f.ago(200),
        per_day=2,
    )
    eldepryl["medicationCodeableConcept"] = {"text": "selegiline hydrochloride 5 MG Oral Capsule"}
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), eldepryl)
    assert "selegiline" not in {t.ingredient for t in result.trd.trials}


@pytest.mark.parametrize("change", [{"doNotPerform": True}, {"intent": "proposal"}])
def test_orders_not_meant_to_be_taken_do_not_count(record_from, assess_record, change) -> None:
    resources = trd_base(P)
    resources[5] = {**resources[5], **change}  # the escitalopram request
    assert assessment(record_from, assess_record, *resources).trd.status == "not-met"


def test_an_active_statement_dated_once_does_not_stretch_a_trial(
    record_from, assess_record
) -> None:
    short = f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(220), end=f.ago(200))
    statement = {
        **f.med_statement("ms", P, *f.ESCITALOPRAM_20, status="active"),
        "effectiveDateTime": f.ago(220),
    }
    result = assessment(
        record_from, assess_record, *trd_base(P, second_trial=False), short, statement
    )
    assert result.decision != "candidate"


@pytest.mark.parametrize(
    "reason",
    [
        "No clinical response",
        "Partial response only",
        "Poor response",
        "Minimal response",
        "Symptoms not improved",
    ],
)
def test_negated_response_wording_means_failure(record_from, assess_record, reason) -> None:
    resources = trd_base(P)
    resources[2]["statusReason"] = {"text": reason}
    result = assessment(record_from, assess_record, *resources)
    assert result.trd.trials[0].status == "adequate-failed" and result.decision == "candidate"


def test_missing_data_that_cannot_change_the_verdict_is_not_reported(
    record_from, assess_record
) -> None:
    old_trazodone = f.med_statement("tz", P, None, "trazodone", start="2019-01-01")
    lithium = f.med_statement("li", P, None, "lithium carbonate", start=f.ago(40))
    result = assessment(record_from, assess_record, *trd_base(P), old_trazodone, lithium)
    assert (result.decision, "missing-trial-data" in result.codes) == ("candidate", False)


def test_a_reentered_problem_list_item_does_not_restart_the_episode(
    record_from, assess_record
) -> None:
    reentered = f.condition("again", P, *f.MDD_SEVERE, recorded=f.ago(5))
    result = assessment(record_from, assess_record, *trd_base(P), reentered)
    assert (result.trd.status, result.trd.failed) == ("met", 2)


def test_a_remission_phq9_settles_not_met_despite_unknowns(record_from, assess_record) -> None:
    unknown = f.med_statement("fx", P, None, "fluoxetine")
    result = assessment(
        record_from, assess_record, *trd_base(P, second_trial=False, phq=3), unknown
    )
    assert (result.trd.status, result.decision) == ("not-met", "not-trd")


def test_olanzapine_fluoxetine_gives_each_ingredient_its_dose(record_from, terminology) -> None:
    symbyax = f.med_request(
        "ofc", P, "725064", "olanzapine 6 MG / fluoxetine 25 MG Oral Capsule", start=f.ago(100)
    )
    [exposure] = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), symbyax).medications
    if "fluoxetine" in exposure.ingredients and len(exposure.recognition.strengths) == 2:
        assert exposure.daily_doses == {"olanzapine": 6, "fluoxetine": 25}
    else:
        pytest.skip("725064 is not in the shipped product map")


@pytest.mark.parametrize(
    "junk",
    [
        {"resourceType": "Observation", "status": {"x": 1}, "effectiveDateTime": "2026-02-01"},
        {"resourceType": "Observation", "status": ["final"], "effectiveDateTime": "2026-02-01"},
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "authoredOn": "2026-01-01",
            "medicationCodeableConcept": {"text": "sertraline"},
            "dosageInstruction": [{"sequence": [1]}, {"sequence": {"a": 1}}],
        },
        {
            "resourceType": "MedicationRequest",
            "status": "completed",
            "authoredOn": "2026-01-01",
            "medicationCodeableConcept": {"text": "sertraline"},
            "dispenseRequest": {
                "expectedSupplyDuration": {"value": "NaN", "code": "d"},
                "numberOfRepeatsAllowed": 99999999,
            },
        },
        {
            "resourceType": "MedicationRequest",
            "status": "completed",
            "authoredOn": "2026-01-01",
            "medicationCodeableConcept": {"text": "sertraline"},
            "dosageInstruction": [
                {"timing": {"repeat": {"boundsDuration": {"value": 1e300, "code": "d"}}}}
            ],
        },
    ],
)
def test_odd_values_the_review_found_never_crash(record_from, assess_record, junk) -> None:
    assess_record(record_from(f.patient(P, "A", "B", "1980-01-01", "male"), junk))


def test_nan_blood_pressure_is_missing_not_normal(record_from, assess_record) -> None:
    bp = f.bp("bp", P, 120, 80, f.ago(1))
    bp["component"][0]["valueQuantity"]["value"] = "NaN"
    result = assessment(record_from, assess_record, *trd_base(P, blood_pressure=None), bp)
    assert "bp-missing" in result.codes


@pytest.mark.parametrize(
    ("code", "pregnant"),
    [
        (("O99.345", "Other mental disorders complicating the puerperium"), False),
        (("O03.9", "Complete or unspecified spontaneous abortion without complication"), False),
        (
            ("O09.90", "Supervision of high risk pregnancy, unspecified, unspecified trimester"),
            True,
        ),
        (("O24.419", "Gestational diabetes mellitus in pregnancy, unspecified control"), True),
        (("O24.43", "Gestational diabetes mellitus in the puerperium"), False),
    ],
)
def test_only_codes_of_a_current_pregnancy_count(
    record_from, assess_record, code, pregnant
) -> None:
    condition = f.condition("preg", P, code, recorded=f.ago(20))
    result = assessment(record_from, assess_record, *trd_base(P), condition)
    assert ("pregnancy" in result.codes) is pregnant


def test_an_old_pregnancy_condition_left_active_does_not_count(record_from, assess_record) -> None:
    stale = f.condition(
        "z34",
        P,
        (
            "Z34.90",
            "Encounter for supervision of normal pregnancy, unspecified, unspecified trimester",
        ),
        recorded="2024-05-01",
    )
    assert "pregnancy" not in assessment(record_from, assess_record, *trd_base(P), stale).codes


def test_brand_names_in_text_are_recognised_and_flagged(terminology) -> None:
    recognition = terminology.recognise([], ["Lexapro 20 mg daily"])
    assert (recognition.ingredients, recognition.by_name) == (("escitalopram",), True)


def test_a_transdermal_selegiline_patch_counts_at_mg_per_24_hours(
    record_from, assess_record
) -> None:
    emsam = f.med_request(
        "emsam",
        P,
        "865206",
        "24 HR selegiline 0.25 MG/HR Transdermal System",
        start=f.ago(300),
        end=f.ago(220),
    )
    emsam["dosageInstruction"][0]["doseAndRate"] = [{"doseQuantity": {"value": 1, "unit": "patch"}}]
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), emsam)
    trial = {t.ingredient: t for t in result.trd.trials}["selegiline"]
    assert (trial.daily_dose_mg, trial.status) == (6, "adequate-failed")


def test_hostile_codes_are_escaped_in_card_text(client) -> None:
    from tests.builders import hook_request

    hostile = "I71.9<img src=x onerror=alert(1)>[click](javascript:alert(1))"
    resources = [*trd_base(P), f.condition("an", P, (hostile, "Aortic aneurysm"))]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert "<img" not in card["detail"].replace("\\<img", "")
    assert "](javascript" not in card["detail"].replace("\\](javascript", "")


def test_home_medications_recorded_with_intent_plan_count(record_from, assess_record) -> None:
    resources = trd_base(P)
    resources[5] = {**resources[5], "intent": "plan", "reportedBoolean": True}
    assert assessment(record_from, assess_record, *resources).trd.status == "met"


def test_recoding_f32_to_f33_keeps_the_onset_of_the_episode(record_from, assess_record) -> None:
    single = f.condition(
        "old", P, ("F32.1", "Major depressive disorder, single episode, moderate"), onset=f.ago(420)
    )
    recoded = f.condition("new", P, *f.MDD_RECURRENT, recorded=f.ago(30))
    resources = [r for r in trd_base(P) if r["resourceType"] != "Condition"]
    result = assessment(record_from, assess_record, *resources, single, recoded)
    assert result.trd.episode.start.isoformat() == f.ago(420)
    assert result.decision == "candidate"


# --- second review ---------------------------------------------------------------------


def test_stopped_orders_with_recorded_past_ends_still_count(record_from, assess_record) -> None:
    resources = trd_base(P)
    for r in resources:
        if r["resourceType"] == "MedicationRequest":
            r["status"] = "stopped"
    assert assessment(record_from, assess_record, *resources).decision == "candidate"


def test_a_dose_change_via_a_stopped_order_stays_uncertain_not_short(
    record_from, assess_record
) -> None:
    low = f.med_request(
        "e10",
        P,
        "349332",
        "escitalopram 10 MG Oral Tablet",
        start=f.ago(200),
        status="stopped",
        status_reason="Dose change",
    )
    low["dosageInstruction"][0]["timing"]["repeat"].pop("boundsPeriod")
    low["dispenseRequest"] = {"expectedSupplyDuration": {"value": 90, "code": "d"}}
    high = f.med_request("e20", P, *f.ESCITALOPRAM_20, start=f.ago(172), end=f.ago(151))
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), low, high)
    status = {t.ingredient: t.status for t in result.trd.trials}["escitalopram"]
    assert status == "unknown-duration"
    assert result.decision == "indeterminate" and "missing-trial-data" in result.codes


def test_an_old_stopped_order_stays_outside_the_episode(record_from, assess_record) -> None:
    old = f.med_request(
        "cit", P, "200371", "citalopram 20 MG Oral Tablet", start="2019-03-01", status="stopped"
    )
    old["dosageInstruction"][0]["timing"]["repeat"].pop("boundsPeriod")
    old["dispenseRequest"] = {"expectedSupplyDuration": {"value": 14, "code": "d"}}
    result = assessment(record_from, assess_record, *trd_base(P), old)
    assert result.decision == "candidate"
    assert {t.ingredient: t.status for t in result.trd.trials}["citalopram"] == "outside-episode"


def test_no_side_effects_is_not_a_failure(record_from, assess_record) -> None:
    resources = trd_base(P)
    resources[2]["statusReason"] = {"text": "Remission achieved; no side effects"}
    resources.append(f.phq9("mid", P, 3, f.ago(340)))
    result = assessment(record_from, assess_record, *resources)
    assert result.trd.trials[0].status == "adequate-responded"


def test_allergic_response_is_not_a_treatment_response(record_from, assess_record) -> None:
    resources = trd_base(P)
    resources[2]["statusReason"] = {"text": "Stopped: allergic response (rash)"}
    assert (
        assessment(record_from, assess_record, *resources).trd.trials[0].status == "adequate-failed"
    )


@pytest.mark.parametrize(
    "emsam",
    [
        {"medicationCodeableConcept": {"coding": [{"system": f.RXNORM, "code": "865206"}]}},
        {"medicationCodeableConcept": {"text": "Emsam 6 mg/24 hr patch"}},
    ],
)
def test_transdermal_selegiline_is_recognised_however_recorded(
    record_from, assess_record, emsam
) -> None:
    request = {**f.med_request("sel", P, "865206", "x", start=f.ago(300), end=f.ago(220)), **emsam}
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), request)
    assert "selegiline" in {t.ingredient for t in result.trd.trials}


def _titration(**timing_by_step):
    request = f.med_request(
        "esc", P, "349332", "escitalopram 10 MG Oral Tablet", start=f.ago(200), status="completed"
    )
    steps = []
    for sequence, (mg, timing) in sorted(timing_by_step.items()):
        steps.append(
            {
                "sequence": int(sequence[1:]),
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d", **timing}},
                "doseAndRate": [{"doseQuantity": {"value": mg, "unit": "mg"}}],
            }
        )
    request["dosageInstruction"] = steps
    return request


def test_titration_steps_without_dates_are_never_summed(record_from, assess_record) -> None:
    request = _titration(s1=(5, {}), s2=(10, {}))
    request["dispenseRequest"] = {"expectedSupplyDuration": {"value": 42, "code": "d"}}
    [exposure] = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), request).medications
    assert exposure.daily_doses == {"escitalopram": 5}
    assert "lowest step dose" in exposure.dose_note


def test_titration_steps_with_durations_are_chained(record_from, assess_record) -> None:
    request = _titration(
        s1=(5, {"boundsDuration": {"value": 28, "code": "d"}}),
        s2=(10, {"boundsDuration": {"value": 14, "code": "d"}}),
    )
    exposures = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), request).medications
    assert [
        (e.daily_doses["escitalopram"], e.start.isoformat(), e.end.isoformat()) for e in exposures
    ] == [(5, f.ago(200), f.ago(172)), (10, f.ago(172), f.ago(158))]


def test_a_bounds_start_with_a_supply_uses_the_supply(record_from, assess_record) -> None:
    request = f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(300), end=f.ago(1))
    request["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"].pop("end")
    request["dispenseRequest"] = {"expectedSupplyDuration": {"value": 90, "code": "d"}}
    [exposure] = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), request).medications
    assert (exposure.end.isoformat(), exposure.duration_known) == (f.ago(210), True)


@pytest.mark.parametrize(
    ("dated", "later_bp", "crisis"),
    [
        (None, None, False),
        (f.ago(20), (128, 82), False),
        (f.ago(3), None, True),
    ],
)
def test_a_crisis_diagnosis_needs_a_date_and_no_calmer_later_reading(
    record_from, assess_record, dated, later_bp, crisis
) -> None:
    i16 = f.condition("i16", P, ("I16.9", "Hypertensive crisis, unspecified"), recorded=dated)
    resources = trd_base(P, blood_pressure=later_bp)
    if later_bp is None:
        resources.append(f.bp("bp-old", P, 128, 82, f.ago(25)))
    codes = assessment(record_from, assess_record, *resources, i16).codes
    assert ("bp-hypertensive-crisis" in codes) is crisis


def test_transient_global_amnesia_is_not_stroke(record_from, assess_record) -> None:
    tga = f.condition("tga", P, ("G45.4", "Transient global amnesia"), status="resolved")
    assert "stroke-history" not in assessment(record_from, assess_record, *trd_base(P), tga).codes


def test_traumatic_subarachnoid_hemorrhage_is_not_recommended(record_from, assess_record) -> None:
    tsah = f.condition(
        "s",
        P,
        (
            "S06.6X0A",
            "Traumatic subarachnoid hemorrhage without loss of consciousness, initial encounter",
        ),
        status="resolved",
    )
    result = assessment(record_from, assess_record, *trd_base(P), tsah)
    assert result.decision == "not-recommended"


@pytest.mark.parametrize("ndc", ["50458-0028-02", "50458002802", "42023-113-10"])
def test_eleven_digit_and_ketalar_ndcs_are_recognised(terminology, ndc) -> None:
    from cds_service.record.terminology import NDC, Code

    assert terminology.recognise([Code(NDC, ndc)]).ingredients in (("esketamine",), ("ketamine",))


@pytest.mark.parametrize(
    "value",
    [
        {"valueString": "2 - More than half the days"},
        {"valueString": "More than half the days."},
        {
            "valueCodeableConcept": {
                "coding": [{"system": f.LOINC, "display": "More than half the days"}]
            }
        },
    ],
)
def test_item9_answer_words_in_any_form_are_read(record_from, assess_record, value) -> None:
    item = {k: v for k, v in f.item9("i9", P, 0, f.ago(2)).items() if k != "valueCodeableConcept"}
    result = assessment(record_from, assess_record, *trd_base(P), {**item, **value})
    assert result.suicide and result.suicide.code == "suicide-risk-urgent"


def test_placeholder_dates_never_crash(record_from, assess_record) -> None:
    odd = f.med_request("x", P, *f.SERTRALINE_100, start="0001-01-01", end="9999-12-31")
    obs = {**f.phq9("p", P, 12, f.ago(1)), "effectiveDateTime": "0001-01-01T01:00:00+05:00"}
    assessment(record_from, assess_record, *trd_base(P), odd, obs)


def test_a_titration_whose_last_step_is_undated_runs_to_the_order_end(record_from) -> None:
    request = _titration(
        s1=(37.5, {"boundsDuration": {"value": 7, "code": "d"}}),
        s2=(75, {"boundsDuration": {"value": 7, "code": "d"}}),
        s3=(150, {}),
    )
    request["medicationCodeableConcept"] = {
        "coding": [{"system": f.RXNORM, "code": "313581", "display": "venlafaxine 150 MG"}]
    }
    request["dispenseRequest"] = {"expectedSupplyDuration": {"value": 90, "code": "d"}}
    exposures = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), request).medications
    last = exposures[-1]
    assert (last.daily_doses, last.start.isoformat(), last.end.isoformat()) == (
        {"venlafaxine": 150},
        f.ago(186),
        f.ago(110),
    )


def test_titration_steps_sharing_the_order_dates_use_the_lowest_dose(record_from) -> None:
    span = {"boundsPeriod": {"start": f.ago(100), "end": f.ago(58)}}
    request = _titration(s1=(5, span), s2=(10, span))
    [exposure] = record_from(f.patient(P, "A", "B", "1980-01-01", "male"), request).medications
    assert exposure.daily_doses == {"escitalopram": 5}


@pytest.mark.parametrize("order", ["crisis-first", "crisis-last"])
def test_same_day_date_only_readings_take_the_worst(record_from, assess_record, order) -> None:
    crisis = {**f.bp("a", P, 186, 122, f.ago(1)), "effectiveDateTime": f.ago(1)}
    calm = {**f.bp("b", P, 130, 80, f.ago(1)), "effectiveDateTime": f.ago(1)}
    readings = [crisis, calm] if order == "crisis-first" else [calm, crisis]
    result = assessment(record_from, assess_record, *trd_base(P, blood_pressure=None), *readings)
    assert "bp-hypertensive-crisis" in result.codes


@pytest.mark.parametrize(
    "reason",
    [
        "Good response; patient failed to refill",
        "Responded well; not effective for sleep so switched",
    ],
)
def test_response_wording_beside_unrelated_failures_is_a_response(
    record_from, assess_record, reason
) -> None:
    resources = trd_base(P)
    resources[2]["statusReason"] = {"text": reason}
    assert (
        assessment(record_from, assess_record, *resources).trd.trials[0].status
        == "adequate-responded"
    )


def test_a_plan_starting_in_the_future_never_has_negative_days(record_from, assess_record) -> None:
    future = {
        **f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(-7), status="active"),
        "intent": "plan",
    }
    result = assessment(record_from, assess_record, *trd_base(P, second_trial=False), future)
    trial = {t.ingredient: t for t in result.trd.trials}["escitalopram"]
    assert trial.days == 0 and trial.status == "in-progress"

"""TRD rules (docs/clinical-basis.md §2): adequacy, duration boundaries, response, verdict."""

from __future__ import annotations

import pytest

from cds_service.clinical.settings import ClinicalSettings
from cds_service.clinical.trd import assess_trd
from tests import fhir as f

P = "p1"
PATIENT = f.patient(P, "Alex", "Kim", "1985-01-01", "female")
MDD = f.condition("mdd", P, *f.MDD_RECURRENT, onset=f.ago(500))
RECENT_PHQ9 = f.phq9("phq-now", P, 16, f.ago(5))


def trd(record_from, terminology, *resources, **settings):
    record = record_from(PATIENT, *resources)
    return assess_trd(record, terminology, ClinicalSettings(**settings))


def sertraline(days: int, *, ended_days_ago: int = 100, mid: str = "sert", **kw):
    return f.med_request(
        mid,
        P,
        *f.SERTRALINE_100,
        start=f.ago(ended_days_ago + days),
        end=f.ago(ended_days_ago),
        **kw,
    )


def escitalopram(days: int, *, ended_days_ago: int = 300, **kw):
    return f.med_request(
        "esc",
        P,
        *f.ESCITALOPRAM_20,
        start=f.ago(ended_days_ago + days),
        end=f.ago(ended_days_ago),
        **kw,
    )


@pytest.mark.parametrize(
    ("days", "status"),
    [
        (27, "too-short"),
        (28, "indeterminate"),
        (41, "indeterminate"),
        (42, "adequate-failed"),
    ],
)
def test_trial_duration_boundaries(record_from, terminology, days, status) -> None:
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, sertraline(days))
    assert [t.status for t in result.trials] == [status]
    assert result.trials[0].days == days


@pytest.mark.parametrize(
    ("second_days", "verdict", "extra"),
    [
        (27, "not-met", set()),
        (28, "indeterminate", {"trial-duration-indeterminate"}),
        (41, "indeterminate", {"trial-duration-indeterminate"}),
        (42, "met", set()),
    ],
)
def test_verdict_turns_on_the_second_trial(
    record_from, terminology, second_days, verdict, extra
) -> None:
    result = trd(
        record_from, terminology, MDD, RECENT_PHQ9, sertraline(60), escitalopram(second_days)
    )
    assert result.status == verdict
    assert {r.code for r in result.reasons} == extra


def test_an_ongoing_trial_under_six_weeks_is_in_progress(record_from, terminology) -> None:
    ongoing = f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(30), status="active")
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, sertraline(60), ongoing)
    statuses = {t.ingredient: t.status for t in result.trials}
    assert statuses == {"sertraline": "adequate-failed", "escitalopram": "in-progress"}
    assert result.status == "not-met"


def test_an_ongoing_adequate_trial_fails_when_the_latest_phq9_is_ten_or_more(
    record_from, terminology
) -> None:
    ongoing = f.med_request("esc", P, *f.ESCITALOPRAM_20, start=f.ago(60), status="active")
    result = trd(
        record_from, terminology, MDD, f.phq9("now", P, 10, f.ago(3)), sertraline(60), ongoing
    )
    assert result.status == "met"
    ongoing_9 = trd(
        record_from, terminology, MDD, f.phq9("now", P, 9, f.ago(3)), sertraline(60), ongoing
    )
    assert {t.ingredient: t.status for t in ongoing_9.trials}[
        "escitalopram"
    ] == "adequate-responded"
    assert ongoing_9.status == "not-met" and ongoing_9.phq9_state == "partial-response"


def test_a_dose_below_the_minimum_does_not_count(record_from, terminology) -> None:
    low = f.med_request("sert", P, *f.SERTRALINE_50, start=f.ago(200), end=f.ago(100), tablets=0.5)
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, low)
    [trial] = result.trials
    assert (trial.status, trial.daily_dose_mg, trial.minimum_dose_mg) == (
        "subtherapeutic-dose",
        25,
        50,
    )


def test_refills_with_short_gaps_join_into_one_trial(record_from, terminology) -> None:
    first = f.med_request("s1", P, *f.SERTRALINE_100, start=f.ago(160), end=f.ago(130))
    second = f.med_request("s2", P, *f.SERTRALINE_100, start=f.ago(120), end=f.ago(100))
    joined = trd(record_from, terminology, MDD, RECENT_PHQ9, first, second)
    assert [(t.status, t.days) for t in joined.trials] == [("adequate-failed", 60)]
    apart = trd(record_from, terminology, MDD, RECENT_PHQ9, first, second, trial_gap_days=5)
    assert [(t.status, t.days) for t in apart.trials] == [("indeterminate", 30)]


def test_the_same_ingredient_counts_once(record_from, terminology) -> None:
    result = trd(
        record_from,
        terminology,
        MDD,
        RECENT_PHQ9,
        sertraline(60, mid="a"),
        sertraline(60, mid="b", ended_days_ago=300),
    )
    assert len(result.trials) == 1
    assert result.failed == 1 and result.status == "not-met"


@pytest.mark.parametrize(
    ("during", "status"),
    [(4, "adequate-responded"), (9, "adequate-responded"), (10, "adequate-failed")],
)
def test_a_response_during_the_trial_means_it_did_not_fail(
    record_from, terminology, during, status
) -> None:
    baseline = f.phq9("base", P, 18, f.ago(165))
    mid_trial = f.phq9("mid", P, during, f.ago(120))
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, baseline, mid_trial, sertraline(60))
    assert result.trials[0].status == status


def test_a_status_reason_of_remission_means_a_response(record_from, terminology) -> None:
    result = trd(
        record_from,
        terminology,
        MDD,
        RECENT_PHQ9,
        sertraline(60, status_reason="Stopped after remission"),
    )
    assert result.trials[0].status == "adequate-responded"


def test_trials_before_the_current_episode_do_not_count(record_from, terminology) -> None:
    recent_mdd = f.condition("mdd", P, *f.MDD_RECURRENT, onset=f.ago(90))
    result = trd(record_from, terminology, recent_mdd, RECENT_PHQ9, sertraline(60))
    assert result.trials[0].status == "outside-episode"
    assert result.episode and result.episode.start.isoformat() == f.ago(90)


def test_an_old_onset_is_capped_to_the_lookback(record_from, terminology) -> None:
    old_mdd = f.condition("mdd", P, *f.MDD_RECURRENT, onset="2015-01-01")
    result = trd(
        record_from,
        terminology,
        old_mdd,
        RECENT_PHQ9,
        sertraline(60),
        sertraline(60, mid="old", ended_days_ago=900),
    )
    assert result.episode and result.episode.capped
    assert result.episode.start.isoformat() == "2024-03-02"


def test_augmenters_count_only_with_the_flag(record_from, terminology) -> None:
    aripiprazole = f.med_request("ari", P, *f.ARIPIPRAZOLE_5, start=f.ago(300), end=f.ago(230))
    off = trd(record_from, terminology, MDD, RECENT_PHQ9, sertraline(60), aripiprazole)
    on = trd(
        record_from,
        terminology,
        MDD,
        RECENT_PHQ9,
        sertraline(60),
        aripiprazole,
        augmentation_counts_as_trial=True,
    )
    assert (off.status, on.status) == ("not-met", "met")
    assert [t.augmenter for t in off.trials] == [True, False]


def test_ketamine_and_esketamine_are_never_antidepressant_trials(record_from, terminology) -> None:
    spravato = f.med_request(
        "esk", P, "2119391", "Spravato 56 MG Dose Kit", start=f.ago(300), end=f.ago(200)
    )
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, sertraline(60), spravato)
    assert [t.ingredient for t in result.trials] == ["sertraline"]


def test_a_text_only_medication_is_matched_by_name_and_flagged(record_from, terminology) -> None:
    statement = f.med_statement(
        "ms", P, None, "Duloxetine 60mg daily (per patient)", start=f.ago(300), end=f.ago(200)
    )
    statement["dosage"] = [{"text": "60 mg once daily"}]
    result = trd(record_from, terminology, MDD, RECENT_PHQ9, statement)
    [trial] = result.trials
    assert (trial.ingredient, trial.matched_by_name, trial.daily_dose_mg) == (
        "duloxetine",
        True,
        60,
    )


@pytest.mark.parametrize(
    ("score", "verdict", "state"),
    [
        (4, "not-met", "remission"),
        (5, "not-met", "partial-response"),
        (9, "not-met", "partial-response"),
        (10, "met", "persisting"),
    ],
)
def test_phq9_bands_decide_whether_depression_persists(
    record_from, terminology, score, verdict, state
) -> None:
    result = trd(
        record_from,
        terminology,
        MDD,
        f.phq9("now", P, score, f.ago(5)),
        sertraline(60),
        escitalopram(60),
    )
    assert (result.status, result.phq9_state) == (verdict, state)


def test_a_phq9_older_than_the_window_is_missing(record_from, terminology) -> None:
    result = trd(
        record_from,
        terminology,
        MDD,
        f.phq9("old", P, 18, f.ago(31)),
        sertraline(60),
        escitalopram(60),
    )
    assert result.status == "indeterminate"
    assert [r.code for r in result.reasons] == ["missing-phq9"]


def test_bipolar_in_any_status_makes_trd_not_applicable(record_from, terminology) -> None:
    bipolar = f.condition("bp", P, ("F31.81", "Bipolar II disorder"), status="inactive")
    assert trd(record_from, terminology, MDD, bipolar).status == "not-applicable"


def test_mdd_in_remission_only_is_not_met(record_from, terminology) -> None:
    remission = f.condition(
        "rem",
        P,
        ("F33.42", "Major depressive disorder, recurrent, in full remission"),
        onset=f.ago(400),
    )
    result = trd(record_from, terminology, remission, RECENT_PHQ9, sertraline(60), escitalopram(60))
    assert (result.status, result.remission_only) == ("not-met", True)


def test_a_recorded_end_in_the_future_counts_only_up_to_today(record_from, terminology) -> None:
    future_end = f.med_request("s", P, *f.SERTRALINE_100, start=f.ago(30), end="2026-06-01")
    [trial] = trd(record_from, terminology, MDD, RECENT_PHQ9, future_end).trials
    assert trial.days == 30 and trial.status == "indeterminate"


def test_no_depressive_disorder_at_all_is_not_applicable(record_from, terminology) -> None:
    result = trd(record_from, terminology, RECENT_PHQ9)
    assert (result.status, result.reasons) == ("not-applicable", ())

"""Card content: untrusted FHIR text is escaped; summaries stay short; wording comes from data."""

from __future__ import annotations

import re
from datetime import date

import pytest

from cds_service.services.common import summary_fit
from cds_service.services.content import md
from tests import fhir as f
from tests.builders import hook_request
from tests.scenarios import trd_base

P = "pat-escape"


def test_markdown_and_html_in_fhir_text_are_escaped(client) -> None:
    hostile = "**Aneurysm** [click](https://evil.example) <img src=x onerror=alert(1)> | col"
    resources = [*trd_base(P), f.condition("an", P, ("I67.1", hostile), recorded="2023-01-01")]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    detail = card["detail"]
    assert not re.search(r"(?<!\\)<img|(?<!\\)\*\*Aneurysm\*\*|(?<!\\)\]\(", detail)
    assert r"\*\*Aneurysm\*\* \[click\](https://evil.example) \<img" in detail


def test_md_flattens_and_bounds_text() -> None:
    assert md("line one\n\n# heading") == r"line one \# heading"
    assert len(md("x" * 500)) == 200


def test_summaries_are_cut_at_a_word_under_140_characters() -> None:
    text = "Ketamine/esketamine contraindicated: " + "very long reason " * 10
    fitted = summary_fit(text)
    assert len(fitted) < 140 and fitted.endswith("…") and " reaso…" not in fitted


def test_contraindicated_cards_offer_alternatives_not_ketamine(client) -> None:
    resources = [
        *trd_base(P),
        f.condition("an", P, ("I67.1", "Cerebral aneurysm, nonruptured"), recorded="2023-01-01"),
    ]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    labels = [s["label"] for s in card["suggestions"]]
    assert labels == ["Refer for TMS evaluation", "Request ECT consultation"]
    ect = card["suggestions"][1]["actions"][0]["resource"]
    assert "ECT: high risk with an aneurysm" in " ".join(n["text"] for n in ect["note"])
    assert card["selectionBehavior"] == "any"
    assert {r["code"] for r in card["overrideReasons"]} >= {"benefit-outweighs-risk"}


def test_candidate_cards_recommend_the_ketamine_evaluation(client) -> None:
    body = hook_request("patient-view", f.bundle(P, trd_base(P)))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    first = card["suggestions"][0]
    assert first["isRecommended"] is True
    resource = first["actions"][0]["resource"]
    assert resource["subject"] == {"reference": f"Patient/{P}"}
    assert resource["reasonReference"] == [{"reference": f"Condition/{P}-mdd"}]
    assert resource["authoredOn"] == "2026-03-02"


def test_recent_mi_and_pregnancy_cautions_reach_the_referrals(client) -> None:
    resources = [
        *trd_base(P),
        f.condition("mi", P, ("I21.4", "NSTEMI"), onset=f.ago(20)),
        f.pregnancy_status("ps", P, True, f.ago(5)),
    ]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    notes = {
        s["label"]: " ".join(n["text"] for n in s["actions"][0]["resource"]["note"])
        for s in card["suggestions"]
    }
    assert (
        "ECT: high risk after a recent myocardial infarction" in notes["Request ECT consultation"]
    )
    assert "TMS: safety in pregnancy is not established" in notes["Refer for TMS evaluation"]


def test_a_crisis_on_a_gated_card_is_urgent_not_hypothetical(client) -> None:
    resources = trd_base(P, second_trial=False, blood_pressure=(200, 125))
    body = hook_request("patient-view", f.bundle(P, resources))
    pressure, card = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert (pressure["source"]["topic"]["code"], pressure["indicator"]) == (
        "blood-pressure",
        "critical",
    )
    assert card["indicator"] == "info"
    assert card["summary"].startswith("Ketamine or esketamine not yet indicated: TRD not met")
    assert "Also on record: severe hypertension" in card["detail"]
    assert "200/125 mmHg" in pressure["summary"]


def test_partial_response_summary_names_the_phq9(client) -> None:
    body = hook_request("patient-view", f.bundle(P, trd_base(P, phq=7)))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert card["summary"] == (
        "Ketamine or esketamine not yet indicated: TRD not met, latest PHQ-9 of 7 shows a partial "
        "response"
    )
    when = date.fromisoformat(f.ago(10)[:10])  # trd_base's recent PHQ-9
    assert f"Latest PHQ-9: 7 on {when.day} {when:%b %Y}." in card["detail"]


@pytest.mark.parametrize("score", [0, 3])
def test_a_remission_card_dates_the_phq9_it_rests_on(client, score: int) -> None:
    body = hook_request("patient-view", f.bundle(P, trd_base(P, phq=score)))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert f"Latest PHQ-9: {score} on " in card["detail"]


def test_other_cautions_stay_beside_a_vascular_lesion(client) -> None:
    resources = [
        *trd_base(P),
        f.condition("an", P, ("I67.1", "Cerebral aneurysm, nonruptured")),
        f.condition("mi", P, ("I21.4", "NSTEMI"), onset=f.ago(20)),
    ]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert "Aneurysmal vascular disease: Cerebral aneurysm, nonruptured" in card["detail"]
    assert "Acute or uncontrolled cardiovascular disease: NSTEMI" in card["detail"]
    assert "ECT: high risk with an aneurysm" in card["detail"]
    assert "ECT: high risk after a recent myocardial infarction" in card["detail"]


def test_an_augmenter_row_says_it_is_not_counted(client) -> None:
    aripiprazole = f.med_request("ari", P, *f.ARIPIPRAZOLE_5, start=f.ago(300), end=f.ago(200))
    body = hook_request(
        "patient-view", f.bundle(P, [*trd_base(P, second_trial=False), aripiprazole])
    )
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert "No: an augmenting drug; this site counts antidepressants only" in card["detail"]
    trials = card["extension"]["org.ketamine-cds.assessment"]["trials"]
    assert {t["medication"]: t.get("augmentation") for t in trials}["aripiprazole"] is True


def test_a_site_can_switch_off_the_patient_view_not_trd_card(make_app) -> None:
    one_trial = f.bundle(P, trd_base(P, second_trial=False))
    default = make_app().test_client()
    [card] = default.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view", one_trial)
    ).json["cards"]
    assert card["extension"]["org.ketamine-cds.assessment"]["decision"] == "not-trd"
    quiet = make_app(clinical={"not_trd_card": False}).test_client()
    body = hook_request("patient-view", one_trial)
    assert quiet.post("/cds-services/ketamine-trd-patient-view", json=body).json == {"cards": []}
    order = hook_request("order-sign", one_trial)
    order["context"]["draftOrders"]["entry"] = [{"resource": f.spravato_draft("d1", P)}]
    cards = quiet.post("/cds-services/ketamine-order-sign", json=order).json["cards"]
    eligibility = [c for c in cards if c["source"]["topic"]["code"] == "ketamine-eligibility"]
    assert eligibility[0]["indicator"] == "warning"
    assert eligibility[0]["summary"].startswith("Reconsider the esketamine order: TRD not met")


def test_the_not_trd_card_is_short_and_keeps_its_trials_table(client) -> None:
    body = hook_request("patient-view", f.bundle(P, trd_base(P, second_trial=False)))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    prose = "\n".join(line for line in card["detail"].splitlines() if not line.startswith("|"))
    assert len(re.findall(r"\S+", prose.replace("**", ""))) <= 40
    assert card["detail"].startswith("**Not yet a candidate: needs 1 more failed adequate")
    assert "| Antidepressant | Daily dose | Dates | Counted |" in card["detail"]


def test_the_interaction_summary_names_only_what_needs_monitoring(client) -> None:
    meds = [
        f.med_request(
            "lor", P, "197901", "lorazepam 1 MG Oral Tablet", start=f.ago(60), status="active"
        ),
        f.med_request(
            "lam", P, "198427", "lamotrigine 100 MG Oral Tablet", start=f.ago(60), status="active"
        ),
    ]
    body = hook_request("order-sign", f.bundle(P, [*trd_base(P), *meds]))
    body["context"]["draftOrders"]["entry"] = [{"resource": f.spravato_draft("d1", P)}]
    cards = client.post("/cds-services/ketamine-order-sign", json=body).json["cards"]
    [interaction] = [c for c in cards if c["source"]["topic"]["code"] == "drug-interaction"]
    assert interaction["summary"] == (
        "Monitor sedation closely with esketamine: lorazepam 1 MG Oral Tablet"
    )
    assert "lamotrigine 100 MG Oral Tablet" in interaction["detail"]
    assert re.search(r"lorazepam 1 MG Oral Tablet, .*\. More sedation", interaction["detail"])


def test_two_missing_items_read_as_one_request(client) -> None:
    resources = [r for r in trd_base(P) if r["resourceType"] != "Observation"]
    body = hook_request("patient-view", f.bundle(P, resources))
    [card] = client.post("/cds-services/ketamine-trd-patient-view", json=body).json["cards"]
    assert card["detail"].startswith(
        "**Before deciding, record a blood pressure within 30 days and a PHQ-9 within 30 days.**"
    )

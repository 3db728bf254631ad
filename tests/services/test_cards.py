"""Card content: untrusted FHIR text is escaped; summaries stay short; wording comes from data."""

from __future__ import annotations

import re

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
    assert not re.search(r"(?<!\\)<img|(?<!\\)\*\*Aneurysm\b|(?<!\\)\]\(", detail)
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
    assert "This patient has aneurysmal vascular disease." in [n["text"] for n in ect["note"]]
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

"""The project's code system is complete, loads from the installed package, and is valid FHIR."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.codesystem import CodeSystem

from cds_service.services.codes import CODE_SYSTEM_URL, code_system, override_reasons, topic

DESIGN_TOPICS = [
    "ketamine-eligibility",
    "suicide-risk",
    "drug-interaction",
    "ketamine-course",
    "neuromodulation-safety",
    "blood-pressure",
    "order-checklist",
]  # the topics of docs/integration.md §3


def test_code_system_is_valid_fhir_with_unique_documented_codes() -> None:
    document = code_system()
    CodeSystem.model_validate(document)
    codes = [c["code"] for c in document["concept"]]
    assert len(codes) == len(set(codes))
    for concept in document["concept"]:
        assert concept["display"].strip() and concept["definition"].strip(), concept["code"]


@pytest.mark.parametrize("code", DESIGN_TOPICS)
def test_every_design_topic_is_defined(code: str) -> None:
    coding = topic(code)
    assert (coding.system, coding.code) == (CODE_SYSTEM_URL, code)
    assert coding.display


def test_unknown_topic_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="not a topic"):
        topic("ketamine-cost")


def test_override_reasons_have_displays_and_no_topics() -> None:
    for topic_code in DESIGN_TOPICS:
        reasons = override_reasons(topic_code)
        assert len(reasons) >= 3, topic_code
        assert {r.code for r in reasons}.isdisjoint(DESIGN_TOPICS)
        assert all(r.display and r.system == CODE_SYSTEM_URL for r in reasons)
        assert "record-inaccurate" in {r.code for r in reasons}


def test_override_reasons_are_chosen_per_topic() -> None:
    suicide = {r.code for r in override_reasons("suicide-risk")}
    eligibility = {r.code for r in override_reasons("ketamine-eligibility")}
    assert {"assessed-today", "in-crisis-care", "safety-plan-in-place"} <= suicide
    assert "benefit-outweighs-risk" not in suicide
    assert "benefit-outweighs-risk" in eligibility and "assessed-today" not in eligibility
    assert {r.code for r in override_reasons("blood-pressure")} >= {"bp-rechecked"}


def test_every_override_reason_serves_some_topic() -> None:
    offered = {r.code for t in DESIGN_TOPICS for r in override_reasons(t)}
    every = {
        c["code"]
        for c in code_system()["concept"]
        if {"code": "kind", "valueCode": "override-reason"} in c["property"]
    }
    assert offered == every


def test_an_unknown_topic_has_no_override_reasons() -> None:
    with pytest.raises(KeyError, match="not a topic"):
        override_reasons("ketamine-cost")

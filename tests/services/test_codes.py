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
    reasons = override_reasons()
    assert len(reasons) >= 5
    assert {r.code for r in reasons}.isdisjoint(DESIGN_TOPICS)
    assert all(r.display and r.system == CODE_SYSTEM_URL for r in reasons)

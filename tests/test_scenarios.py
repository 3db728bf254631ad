"""Every patient-view fixture, end to end over HTTP, against its expected cards."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.builders import FIXTURES, SERVICE_FOR_HOOK
from tests.scenarios import SCENARIOS, dumps, readme, render

EXTENSION = "org.ketamine-cds.assessment"
NAMES = [s.name for s in SCENARIOS]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=NAMES)
def test_fixture_files_match_their_scenario(scenario) -> None:
    for relative, document in render(scenario).items():
        path = FIXTURES / relative
        assert path.is_file(), f"missing {relative}: run python -m tests.scenarios"
        assert path.read_text() == dumps(document), f"{relative} drifted: python -m tests.scenarios"


def test_fixture_readme_lists_every_scenario() -> None:
    assert (FIXTURES / "README.md").read_text() == readme()


def _request(name: str) -> tuple[str, dict]:
    hook = json.loads((FIXTURES / "expected" / f"{name}.json").read_text())["hook"]
    request = json.loads((FIXTURES / "requests" / hook / f"{name}.json").read_text())
    return SERVICE_FOR_HOOK[hook], request


@pytest.mark.parametrize("name", NAMES)
def test_fixture_gives_its_expected_cards(client, name: str) -> None:
    service, request = _request(name)
    expected = json.loads((FIXTURES / "expected" / f"{name}.json").read_text())["cards"]
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == 200
    cards = response.json["cards"]
    assert [c["source"]["topic"]["code"] for c in cards] == [e["topic"] for e in expected]
    for card, want in zip(cards, expected, strict=True):
        assessment = card["extension"][EXTENSION]
        got = {
            "indicator": card["indicator"],
            "decision": assessment["decision"],
            "trd": assessment["trd"],
            "reasons": sorted(r["code"] for r in assessment.get("reasons", [])),
        }
        assert got == {k: want[k] for k in got}, card["summary"]
        if "status" in want:
            assert assessment["neuromodulation"]["status"] == want["status"]
        text = card["summary"] + "\n" + card.get("detail", "")
        for phrase in want["phrases"]:
            assert phrase in text, f"{phrase!r} not in the {want['topic']} card"
        for reason in assessment.get("reasons", []):
            assert reason.get("evidence") or reason["code"] in ("bp-missing", "missing-phq9")
            for evidence in reason.get("evidence", []):  # codes stay in the extension
                code = evidence.get("code", "").split("|")[-1]
                assert not code or code not in text, (code, card["summary"])
        if "suggestions" in want:
            got_actions = [
                [a["type"], a.get("resourceId") or a["resource"]["resourceType"]]
                for s in card.get("suggestions", [])
                for a in s["actions"]
            ]
            assert got_actions == want["suggestions"]


@pytest.mark.parametrize("name", NAMES)
def test_every_suggested_resource_is_valid_fhir_r4(client, name: str) -> None:
    service, request = _request(name)
    drafts = {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in request["context"].get("draftOrders", {}).get("entry", [])
    }
    for card in client.post(f"/cds-services/{service}", json=request).json["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if action["type"] == "delete":
                    assert action["resourceId"] in drafts
                    continue
                resource = action["resource"]
                get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def test_fixtures_cover_every_decision_and_patient_view_reason() -> None:
    decisions = {c["decision"] for s in SCENARIOS for c in s.cards}
    reasons = {r for s in SCENARIOS for c in s.cards for r in c["reasons"]}
    assert decisions == {
        "contraindicated",
        "not-indicated",
        "not-recommended",
        "defer",
        "monitoring",
        "indeterminate",
        "not-trd",
        "candidate-caution",
        "candidate",
    }
    assert reasons >= {
        "bp-above-140-90",
        "bp-poorly-controlled",
        "bp-hypertensive-crisis",
        "bp-missing",
        "pregnancy",
        "lactation",
        "ketamine-hypersensitivity",
        "aneurysmal-vascular-disease",
        "arteriovenous-malformation",
        "intracerebral-hemorrhage-history",
        "psychosis-history",
        "psychotic-features",
        "active-substance-use",
        "substance-use-in-remission",
        "stroke-history",
        "liver-disease",
        "uncontrolled-cardiovascular-disease",
        "bipolar-disorder",
        "age-under-18",
        "age-65-plus",
        "suicide-risk-urgent",
        "suicide-risk-assessment-required",
        "missing-episode-onset",
        "missing-trial-data",
        "missing-phq9",
    }

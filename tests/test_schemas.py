"""The JSON Schemas the suite validates against reject what the spec forbids (so they can fail)."""

from __future__ import annotations

import copy

import pytest

from tests.contract import VALIDATORS, empties

CARD = {
    "uuid": "0b7c1a52-3f5e-4c55-9d7a-2f0e4b1d8c11",
    "summary": "Esketamine: contraindicated (aneurysm on record)",
    "indicator": "critical",
    "source": {"label": "Ketamine CDS", "topic": {"system": "https://x.org/cs", "code": "t"}},
    "selectionBehavior": "at-most-one",
    "suggestions": [
        {
            "label": "Remove the draft order",
            "uuid": "a6b3d1f0-4a5b-4c3d-9e8f-0123456789ab",
            "isRecommended": True,
            "actions": [
                {
                    "type": "delete",
                    "description": "Remove the draft",
                    "resourceId": "MedicationRequest/request-123",
                }
            ],
        },
        {
            "label": "Refer for TMS",
            "uuid": "b6b3d1f0-4a5b-4c3d-9e8f-0123456789ab",
            "actions": [
                {
                    "type": "create",
                    "description": "Referral",
                    "resource": {"resourceType": "ServiceRequest", "status": "draft"},
                }
            ],
        },
    ],
    "overrideReasons": [{"system": "https://x.org/cs", "code": "r", "display": "Reason"}],
    "links": [
        {
            "label": "Spravato label",
            "url": "https://www.accessdata.fda.gov/x.pdf",
            "type": "absolute",
        }
    ],
}


def response_with(mutate) -> dict:
    card = copy.deepcopy(CARD)
    mutate(card)
    return {"cards": [card]}


def test_a_full_valid_card_passes() -> None:
    assert not list(VALIDATORS["cds-response"].iter_errors({"cards": [CARD]}))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.update(summary="x" * 140),
        lambda c: c.update(indicator="hard-stop"),
        lambda c: c.pop("selectionBehavior"),
        lambda c: c.update(selectionBehavior="all"),
        lambda c: c["suggestions"][1].update(isRecommended=True),
        lambda c: c["overrideReasons"][0].pop("display"),
        lambda c: c["links"][0].update(appContext="{}"),
        lambda c: c["links"][0].update(url="/relative"),
        lambda c: c["suggestions"][0]["actions"][0].update(resource={"resourceType": "X", "a": 1}),
        lambda c: c["suggestions"][0]["actions"][0].pop("resourceId"),
        lambda c: c["suggestions"][1]["actions"][0].pop("resource"),
        lambda c: c["suggestions"][1]["actions"][0].pop("description"),
        lambda c: c.update(detail=""),
        lambda c: c.update(links=[]),
        lambda c: c.update(extension={}),
        lambda c: c["source"].pop("label"),
        lambda c: c["source"]["topic"].pop("system"),
        lambda c: c.update(uuid="not-a-uuid"),
        lambda c: c.update(colour="red"),
    ],
)
def test_the_response_schema_rejects_spec_violations(mutate) -> None:
    assert list(VALIDATORS["cds-response"].iter_errors(response_with(mutate)))


def test_the_no_empties_walk_finds_nulls_and_empties_but_allows_empty_cards() -> None:
    assert empties({"cards": []}) == []
    assert empties({"services": []}) == []
    assert empties({"cards": [{"detail": None, "links": [], "x": {"y": ""}}]}) == [
        "/cards/0/detail",
        "/cards/0/links",
        "/cards/0/x/y",
    ]


@pytest.mark.parametrize(
    "document",
    [
        {"services": [{"hook": "patient-view", "id": "x"}]},
        {"services": [{"hook": "patient-view", "id": "x", "description": "d", "prefetch": {}}]},
        {
            "services": [
                {
                    "hook": "patient-view",
                    "id": "x",
                    "description": "d",
                    "prefetch": {"p": "Patient/{{Patient.id}}"},
                }
            ]
        },
    ],
)
def test_the_discovery_schema_rejects_bad_services(document) -> None:
    assert list(VALIDATORS["discovery"].iter_errors(document))

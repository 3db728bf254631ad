"""/openapi.json: a 3.1 description whose schemas accept what the service really sends."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.builders import FIXTURES, SERVICE_FOR_HOOK, hook_request


@pytest.fixture
def document(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json


def validator(document: dict, model: str) -> Draft202012Validator:
    resource = Resource(contents=document, specification=DRAFT202012)
    registry = Registry().with_resource("urn:openapi", resource)
    schema = {"$ref": f"urn:openapi#/components/schemas/{model}"}
    return Draft202012Validator(schema, registry=registry)


def refs(value) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [r for v in value.values() for r in refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in refs(v)]
    return []


def test_paths_operations_and_errors_are_described(document) -> None:
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
        "/healthz",
    }
    call = document["paths"]["/cds-services/{service_id}"]["post"]
    assert set(call["responses"]) == {"200", "400", "401", "404", "412", "413"}
    assert call["parameters"][0]["schema"]["enum"] == sorted(set(SERVICE_FOR_HOOK.values()))


def test_every_reference_resolves_and_no_schema_allows_null(document) -> None:
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas
    assert '"null"' not in json.dumps(schemas)


@pytest.mark.parametrize("hook", list(SERVICE_FOR_HOOK))
def test_real_requests_and_responses_match_the_schemas(client, document, hook) -> None:
    body = json.loads((FIXTURES / "requests" / f"sandbox-{hook}.json").read_text())
    validator(document, "HookRequest").validate(body)
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[hook]}", json=body)
    assert response.status_code == 200
    validator(document, "CdsResponse").validate(response.json)


def test_a_card_response_with_suggestions_matches(client, document) -> None:
    response = client.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view")
    )
    [card] = response.json["cards"]
    assert card["suggestions"]
    validator(document, "CdsResponse").validate(response.json)


def test_discovery_errors_and_feedback_match(client, document) -> None:
    validator(document, "DiscoveryResponse").validate(client.get("/cds-services").json)
    refused = client.post("/cds-services/ketamine-trd-patient-view", data="{")
    validator(document, "OperationOutcome").validate(refused.json)
    feedback = {
        "feedback": [
            {
                "card": "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-03-02T10:06:00Z",
            }
        ]
    }
    validator(document, "FeedbackRequest").validate(feedback)
    stored = client.post("/cds-services/ketamine-trd-patient-view/feedback", json=feedback)
    validator(document, "FeedbackResponse").validate(stored.json)


def test_the_schemas_reject_what_the_spec_forbids(document) -> None:
    check = validator(document, "CdsResponse")
    card = {
        "uuid": "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11",
        "summary": "s",
        "indicator": "info",
        "source": {"label": "l"},
    }
    check.validate({"cards": [card]})
    assert not check.is_valid({"cards": [{**card, "indicator": "urgent"}]})
    assert not check.is_valid({"cards": [{**card, "summary": None}]})

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


def test_each_hook_has_its_request_and_context(document) -> None:
    schemas = document["components"]["schemas"]
    variants = [r["$ref"].rsplit("/", 1)[1] for r in schemas["HookRequest"]["oneOf"]]
    assert variants == ["OrderSelectRequest", "OrderSignRequest", "PatientViewRequest"]
    contexts = {
        schemas[v]["properties"]["hook"]["const"]: schemas[v]["properties"]["context"]["$ref"]
        for v in variants
    }
    assert contexts == {
        "order-select": "#/components/schemas/OrderSelectContext",
        "order-sign": "#/components/schemas/OrderSignContext",
        "patient-view": "#/components/schemas/PatientViewContext",
    }
    assert schemas["OrderSignContext"]["required"] == ["userId", "patientId", "draftOrders"]


def _hook_body(hook: str, **changes) -> dict:
    body = json.loads((FIXTURES / "requests" / f"sandbox-{hook}.json").read_text())
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = body
        for part in parents:
            target = target[part]
        if value is None:
            target.pop(last)
        else:
            target[last] = value
    return body


HOOK_CASES = [  # (hook, changes): each refused by the schema and by the service alike
    ("patient-view", {"context__patientId": 12}),
    ("patient-view", {"context__userId": "COREPRACTITIONER1"}),
    ("order-sign", {"context__draftOrders": None}),
    ("order-sign", {"context__draftOrders": {"resourceType": "Parameters"}}),
    ("order-select", {"context__selections": []}),
    ("patient-view", {"fhirServer": "ftp://ehr.example.org/fhir"}),
    ("patient-view", {"fhirServer": "https://ehr.example.org/fhir?tenant=1"}),
    ("patient-view", {"fhirServer": "https://ehr.example.org/fhir/../admin"}),
    ("patient-view", {"fhirServer": None, "fhirAuthorization": {"access_token": "t"}}),
    ("patient-view", {"hookInstance": ""}),
]


@pytest.mark.parametrize(("hook", "changes"), HOOK_CASES)
def test_the_hook_request_schema_refuses_what_the_service_refuses(
    client, document, hook, changes
) -> None:
    body = _hook_body(hook, **changes)
    assert not validator(document, "HookRequest").is_valid(body)
    response = client.post(f"/cds-services/{SERVICE_FOR_HOOK[hook]}", json=body)
    assert response.status_code == 400


FEEDBACK_ITEM = {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:06:00Z"}
FEEDBACK_CASES = [  # (item, valid): the schema and the service agree on each
    ({}, True),
    ({"outcomeTimestamp": "2026-03-02T10:06:00.123+05:30"}, True),
    ({"outcomeTimestamp": "2026-03-02T10:06:00"}, True),  # no offset: taken as UTC
    ({"outcomeTimestamp": "2026-03-02T10:06Z"}, False),  # a time to the second is needed
    ({"outcomeTimestamp": "2026-03-02"}, False),
    ({"outcomeTimestamp": "2026-13-01T10:06:00Z"}, False),
    ({"outcomeTimestamp": "0001-01-01T00:00:00+14:00"}, False),  # before year 1 in UTC
    ({"outcomeTimestamp": "0002-01-01T00:00:00+14:00"}, True),
    ({"outcome": "accepted"}, False),  # accepted names its suggestions
    ({"outcome": "accepted", "acceptedSuggestions": []}, False),
    ({"outcome": "accepted", "acceptedSuggestions": [{"id": "s1"}]}, True),
    ({"overrideReason": {}}, False),  # a reason or a comment
    ({"overrideReason": {"userComment": ""}}, False),
    ({"overrideReason": {"userComment": "later"}}, True),
    ({"overrideReason": {"reason": {"code": "x"}}}, True),
    ({"overrideReason": {"code": "x", "system": "urn:s"}}, True),  # older Sandbox builds
    ({"card": "a\u0000b"}, False),  # stored text holds no NUL
    ({"overrideReason": {"userComment": "a\u0000b"}}, False),
    ({"card": "x" * 64}, True),
    ({"card": "x" * 65}, False),
]


@pytest.mark.parametrize(("changes", "valid"), FEEDBACK_CASES)
def test_the_feedback_schema_agrees_with_the_service(client, document, changes, valid) -> None:
    body = {"feedback": [{**FEEDBACK_ITEM, **changes}]}
    assert validator(document, "FeedbackRequest").is_valid(body) is valid
    response = client.post("/cds-services/ketamine-order-sign/feedback", json=body)
    assert response.status_code == (200 if valid else 400), response.json


@pytest.mark.parametrize(("expires_in", "valid"), [(3600, True), (2**64 - 1, True), (2**64, False)])
def test_the_token_lifetime_is_a_64_bit_integer(client, document, expires_in, valid) -> None:
    body = _hook_body("patient-view", fhirAuthorization={"access_token": "t", "expires_in": 0})
    body["fhirAuthorization"]["expires_in"] = expires_in
    assert validator(document, "HookRequest").is_valid(body) is valid
    response = client.post("/cds-services/ketamine-trd-patient-view", json=body)
    assert response.status_code == (200 if valid else 400), response.json


def operations(document: dict) -> list[dict]:
    return [op for path in document["paths"].values() for op in path.values()]


def test_with_authentication_off_no_operation_asks_for_the_jwt(document) -> None:
    secured = [op for op in operations(document) if op.get("security")]
    assert secured == []


def test_with_authentication_on_discovery_calls_and_feedback_ask_for_the_jwt(make_app) -> None:
    document = make_app(auth_enabled=True).test_client().get("/openapi.json").json
    jwt = [{"cdsHooksJwt": []}]
    assert document["paths"]["/cds-services"]["get"]["security"] == jwt
    assert document["paths"]["/cds-services/{service_id}"]["post"]["security"] == jwt
    assert document["paths"]["/cds-services/{service_id}/feedback"]["post"]["security"] == jwt
    assert "security" not in document["paths"]["/healthz"]["get"]

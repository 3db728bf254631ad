"""POST /cds-services/{id}: Sandbox-shaped calls succeed; bad requests get a clear 4xx."""

from __future__ import annotations

import copy
import io
import json

import pytest

from tests.builders import FIXTURES, SERVICE_FOR_HOOK, hook_request

HOOKS = list(SERVICE_FOR_HOOK)


def post(client, service_id: str, body: object, **kwargs):
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    kwargs.setdefault("content_type", "application/json")
    return client.post(f"/cds-services/{service_id}", data=data, **kwargs)


def issue_codes(response) -> list[str]:
    return [i["details"]["coding"][0]["code"] for i in response.json["issue"]]


def diagnostics(response) -> str:
    return " | ".join(i["diagnostics"] for i in response.json["issue"])


@pytest.mark.parametrize("hook", HOOKS)
def test_sandbox_shaped_request_answers_200(client, hook: str) -> None:
    body = json.loads((FIXTURES / "requests" / f"sandbox-{hook}.json").read_text())
    response = post(client, SERVICE_FOR_HOOK[hook], body)
    assert response.status_code == 200
    if hook == "patient-view":
        [card] = response.json["cards"]
        assert card["source"]["topic"]["code"] == "ketamine-eligibility"
        assert card["extension"]["org.ketamine-cds.assessment"]["decision"] == "candidate"
    else:  # a sertraline draft order is not a ketamine order: no cards
        assert response.json == {"cards": []}


@pytest.mark.parametrize("hook", HOOKS)
def test_sandbox_request_without_content_type_is_accepted(client, hook: str) -> None:
    response = client.post(
        f"/cds-services/{SERVICE_FOR_HOOK[hook]}",
        data=json.dumps(hook_request(hook)),
        content_type="text/plain",
    )
    assert response.status_code == 200


@pytest.mark.parametrize("hook", HOOKS)
def test_unknown_keys_and_extensions_are_ignored(client, hook: str) -> None:
    body = hook_request(hook, extension={"com.example.trace": {"id": 1}}, vendorFlag=True)
    body["context"]["extension"] = {"com.example.ctx": "x"}
    body["context"]["vendorContext"] = [1, 2]
    assert post(client, SERVICE_FOR_HOOK[hook], body).status_code == 200


def test_optional_encounter_id_may_be_present_or_absent(client) -> None:
    body = hook_request("patient-view")
    body["context"]["encounterId"] = "enc-2026-03-02"
    assert post(client, "ketamine-trd-patient-view", body).status_code == 200


def test_prefetch_absent_and_fhir_server_absent_is_412(client) -> None:
    body = hook_request("patient-view")
    del body["prefetch"], body["fhirServer"]
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 412
    assert "Prefetch key 'patient'" in diagnostics(response)
    assert "no fhirServer was given" in diagnostics(response)


def test_unknown_service_is_404(client) -> None:
    response = post(client, "ketamine-nope", hook_request("patient-view"))
    assert response.status_code == 404
    assert issue_codes(response) == ["unknown-service"]
    assert "ketamine-order-sign" in diagnostics(response)


@pytest.mark.parametrize(
    ("service_id", "hook"),
    [
        ("ketamine-order-sign", "patient-view"),
        ("ketamine-trd-patient-view", "order-select"),
        ("ketamine-order-select", "medication-prescribe"),
    ],
)
def test_hook_not_served_by_this_id_is_400(client, service_id: str, hook: str) -> None:
    body = hook_request("patient-view")
    body["hook"] = hook
    response = post(client, service_id, body)
    assert response.status_code == 400
    assert issue_codes(response) == ["hook-not-served"]
    assert f"not '{hook}'" in diagnostics(response)


@pytest.mark.parametrize(
    ("raw", "code", "text"),
    [
        (b'{"hook": "patient-view",', "invalid-json", "not valid JSON"),
        (b"", "empty-body", "empty"),
        (b"   \n", "empty-body", "empty"),
        (b'["patient-view"]', "not-an-object", "not array"),
        (b'"patient-view"', "not-an-object", "not string"),
        (b"null", "not-an-object", "not null"),
        (b"\xff\xfe{}", "invalid-json", "not valid JSON"),
    ],
)
def test_unparsable_bodies_are_400(client, raw: bytes, code: str, text: str) -> None:
    response = post(client, "ketamine-trd-patient-view", raw)
    assert response.status_code == 400
    assert issue_codes(response) == [code]
    assert text in diagnostics(response)


@pytest.mark.parametrize("field", ["hook", "hookInstance", "context"])
def test_missing_required_top_level_field_is_400(client, field: str) -> None:
    body = hook_request("patient-view")
    del body[field]
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert f"{field}: is required" in diagnostics(response)
    assert response.json["issue"][0]["expression"] == [field]


@pytest.mark.parametrize(
    ("hook", "field"),
    [
        ("patient-view", "userId"),
        ("patient-view", "patientId"),
        ("order-select", "selections"),
        ("order-select", "draftOrders"),
        ("order-sign", "draftOrders"),
        ("order-sign", "patientId"),
    ],
)
def test_missing_required_context_field_is_400(client, hook: str, field: str) -> None:
    body = hook_request(hook)
    del body["context"][field]
    response = post(client, SERVICE_FOR_HOOK[hook], body)
    assert response.status_code == 400
    assert f"context.{field}: is required" in diagnostics(response)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda b: b.update(hookInstance=42),
            "hookInstance: Input should be a valid string (got number)",
        ),
        (
            lambda b: b.update(context="patient"),
            "context: Input should be a valid dictionary (got string)",
        ),
        (
            lambda b: b.update(prefetch=[]),
            "prefetch: Input should be a valid dictionary (got array)",
        ),
        (
            lambda b: b["context"].update(patientId=12),
            "context.patientId: Input should be a valid string (got number)",
        ),
        (
            lambda b: b["context"].update(patientId=None),
            "context.patientId: Input should be a valid string (got null)",
        ),
        (
            lambda b: b.update(fhirServer="localhost:9080"),
            "fhirServer: must be an absolute http/https URL",
        ),
    ],
)
def test_wrong_types_are_400_with_path_and_expected_type(client, mutate, expected: str) -> None:
    body = hook_request("patient-view")
    mutate(body)
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert expected in diagnostics(response)


@pytest.mark.parametrize(
    "user_id",
    ["COREPRACTITIONER1", "Practitioner/", "/abc", "Practitioner/a/b", "Practitioner/{{id}}"],
)
def test_user_id_not_in_type_slash_id_form_is_400(client, user_id: str) -> None:
    body = hook_request("patient-view")
    body["context"]["userId"] = user_id
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert "context.userId: must have the form ResourceType/id" in diagnostics(response)


def test_selection_must_name_a_draft_order(client) -> None:
    body = hook_request("order-select")
    body["context"]["selections"] = ["MedicationRequest/not-in-bundle"]
    response = post(client, "ketamine-order-select", body)
    assert response.status_code == 400
    assert "name no resource in draftOrders" in diagnostics(response)


def test_selection_resolves_through_entry_full_url(client) -> None:
    body = hook_request("order-select")
    entry = body["context"]["draftOrders"]["entry"][0]
    entry["fullUrl"] = "http://localhost:8081/fhir/MedicationRequest/request-123"
    entry["resource"].pop("id")
    assert post(client, "ketamine-order-select", body).status_code == 200


def test_draft_orders_must_be_a_bundle(client) -> None:
    body = hook_request("order-sign")
    body["context"]["draftOrders"] = {"resourceType": "MedicationRequest", "id": "x"}
    response = post(client, "ketamine-order-sign", body)
    assert response.status_code == 400
    assert "context.draftOrders.resourceType" in diagnostics(response)


def test_draft_orders_bundle_without_type_is_tolerated(client) -> None:
    body = hook_request("order-sign")
    assert "type" not in body["context"]["draftOrders"]
    assert post(client, "ketamine-order-sign", body).status_code == 200


def test_fhir_authorization_without_fhir_server_is_400(client) -> None:
    body = hook_request("patient-view")
    del body["fhirServer"]
    body["fhirAuthorization"] = {
        "access_token": "t",
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "patient/*.read",
        "subject": "ketamine-cds",
    }
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert "fhirServer is required" in diagnostics(response)


@pytest.mark.parametrize("expires_in", [True, False])
def test_a_boolean_expires_in_is_400(client, expires_in: bool) -> None:
    """Lax integers would read true as 1 second; a boolean is not a number of seconds."""
    body = hook_request("patient-view")
    body["fhirAuthorization"] = {"access_token": "t", "expires_in": expires_in}
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert "fhirAuthorization.expires_in: must be a number of seconds" in diagnostics(response)


def test_body_over_the_size_cap_is_413(make_app) -> None:
    client = make_app(max_body_bytes=2048).test_client()
    response = post(client, "ketamine-trd-patient-view", hook_request("patient-view"))
    assert response.status_code == 413
    assert "2048-byte limit" in diagnostics(response)


def post_chunked(client, body: dict):
    """A hook call sent without Content-Length, as a chunked body."""
    return client.post(
        "/cds-services/ketamine-trd-patient-view",
        input_stream=io.BytesIO(json.dumps(body).encode()),
        environ_overrides={"wsgi.input_terminated": True},
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    )


def test_chunked_body_over_the_size_cap_is_413(make_app) -> None:
    client = make_app(max_body_bytes=2048).test_client()
    assert post_chunked(client, hook_request("patient-view")).status_code == 413


def test_chunked_body_under_the_cap_is_read_whole(client) -> None:
    response = post_chunked(client, hook_request("patient-view"))
    assert response.status_code == 200
    assert response.get_json()["cards"][0]["summary"]


def test_body_shorter_than_its_content_length_is_400(client) -> None:
    response = client.post(
        "/cds-services/ketamine-trd-patient-view",
        data=b'{"hook": "patient-view"}',
        environ_overrides={"CONTENT_LENGTH": "1000"},
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_errors_never_echo_the_request_body(client) -> None:
    body = hook_request("patient-view")
    body["context"]["patientId"] = {"name": "Alex Rivera"}
    response = post(client, "ketamine-trd-patient-view", copy.deepcopy(body))
    assert response.status_code == 400
    assert "Alex Rivera" not in response.get_data(as_text=True)


@pytest.mark.parametrize("patient_id", [".", "..", "..."])
def test_patient_ids_of_dots_alone_are_refused(client, patient_id: str) -> None:
    body = hook_request("patient-view")
    body["context"]["patientId"] = patient_id
    response = post(client, "ketamine-trd-patient-view", body)
    assert response.status_code == 400
    assert "context.patientId: must be a FHIR id" in diagnostics(response)


@pytest.mark.parametrize(
    "server",
    [
        "https://ehr.example.org/fhir?tenant=1",
        "https://ehr.example.org/fhir#x",
        "https://user:pw@ehr.example.org/fhir",
    ],
)
def test_fhir_server_must_be_a_plain_base_url(client, server: str) -> None:
    response = post(
        client, "ketamine-trd-patient-view", hook_request("patient-view", fhirServer=server)
    )
    assert response.status_code == 400
    assert "fhirServer: must be a base URL" in diagnostics(response)


def test_many_selections_are_resolved_quickly(make_app) -> None:
    client = make_app(max_draft_orders=4000).test_client()
    body = hook_request("order-select")
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    entries = [{"resource": {**draft, "id": f"mr-{i}"}} for i in range(4000)]
    body["context"]["draftOrders"]["entry"] = entries
    body["context"]["selections"] = [f"MedicationRequest/mr-{i}" for i in range(4000)]
    assert post(client, "ketamine-order-select", body).status_code == 200


def test_client_text_in_hook_and_hook_instance_stays_out_of_logs(client, json_logs) -> None:
    body = hook_request("patient-view", hookInstance="MRN-123456 Jane Doe")
    body["hook"] = "Jane Doe " + "x" * 5000
    too_long = post(client, "ketamine-trd-patient-view", body)
    assert too_long.status_code == 400
    body["hook"] = "patient-view"
    assert post(client, "ketamine-trd-patient-view", body).status_code == 200
    assert "Jane Doe" not in json_logs.getvalue()
    assert '"hookInstance":"(not a uuid)"' in json_logs.getvalue()

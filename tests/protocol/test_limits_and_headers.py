"""Count caps answer 413 naming the field; every response carries JSON-API security headers."""

from __future__ import annotations

import copy
import json

import pytest
from gunicorn.http.errors import ChunkMissingTerminator, InvalidChunkSize

from tests.builders import FIXTURES, hook_request

URL = "/cds-services/ketamine-trd-patient-view"
SIGN_URL = "/cds-services/ketamine-order-sign"


def problem(response) -> dict:
    [issue] = response.json["issue"]
    return issue


def test_too_many_prefetch_keys(make_app) -> None:
    client = make_app(max_prefetch_keys=3).test_client()
    response = client.post(URL, json=hook_request("patient-view"))
    assert response.status_code == 413
    issue = problem(response)
    assert issue["details"]["coding"][0]["code"] == "too-many-prefetch-keys"
    assert issue["expression"] == ["prefetch"]
    assert "the limit is 3" in issue["diagnostics"]


def test_too_many_entries_in_a_prefetch_bundle(make_app) -> None:
    body = hook_request("patient-view")
    conditions = body["prefetch"]["conditions"]
    conditions["entry"] = [copy.deepcopy(conditions["entry"][0]) for _ in range(11)]
    response = make_app(max_bundle_entries=10).test_client().post(URL, json=body)
    assert response.status_code == 413
    issue = problem(response)
    assert issue["details"]["coding"][0]["code"] == "too-many-entries"
    assert issue["expression"] == ["prefetch.conditions.entry"]
    assert issue["diagnostics"] == "prefetch.conditions has 11 entries; the limit is 10."


def largest_prefetch_bundle(body: dict) -> int:
    return max(len(v.get("entry", [])) for v in body["prefetch"].values())


def with_drafts(count: int) -> dict:
    body = hook_request("order-sign")
    drafts = body["context"]["draftOrders"]
    drafts["entry"] = [copy.deepcopy(drafts["entry"][0]) for _ in range(count)]
    for index, entry in enumerate(drafts["entry"]):
        entry["resource"]["id"] = f"draft-{index}"
    return body


def test_draft_orders_have_their_own_cap(client) -> None:
    response = client.post(SIGN_URL, json=with_drafts(51))
    assert response.status_code == 413
    issue = problem(response)
    assert issue["details"]["coding"][0]["code"] == "too-many-draft-orders"
    assert issue["expression"] == ["context.draftOrders.entry"]
    assert issue["diagnostics"] == (
        "context.draftOrders has 51 orders; the limit is 50 (KETAMINE_CDS_MAX_DRAFT_ORDERS)."
    )


def test_the_draft_order_cap_is_a_setting(make_app) -> None:
    response = make_app(max_draft_orders=2).test_client().post(SIGN_URL, json=with_drafts(3))
    assert response.status_code == 413
    assert "the limit is 2" in problem(response)["diagnostics"]


def test_a_request_at_the_caps_is_served(make_app) -> None:
    body = hook_request("patient-view")
    keys = len(body["prefetch"])
    biggest = largest_prefetch_bundle(body)
    client = make_app(max_prefetch_keys=keys, max_bundle_entries=biggest).test_client()
    assert client.post(URL, json=body).status_code == 200


def test_prefetch_values_that_are_not_bundles_are_not_counted(make_app) -> None:
    body = hook_request("patient-view")
    body["prefetch"]["conditions"] = {"resourceType": "Bundle", "entry": "not-a-list"}
    cap = largest_prefetch_bundle(
        {"prefetch": {k: v for k, v in body["prefetch"].items() if k != "conditions"}}
    )
    response = make_app(max_bundle_entries=cap).test_client().post(URL, json=body)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/cds-services"), ("post", URL), ("get", "/healthz"), ("get", "/nowhere")],
)
def test_security_headers_on_every_response(client, method, path) -> None:
    kwargs = {"json": hook_request("patient-view")} if method == "post" else {}
    response = getattr(client, method)(path, **kwargs)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_only_over_https(client) -> None:
    response = client.get("/healthz", base_url="https://cds.example.org")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"


def test_security_headers_on_refusals_and_failures(make_app, make_settings) -> None:
    from tests.test_app import exploding_app

    secured = make_app(
        auth_enabled=True,
        public_base_url="https://cds.example.org",
        trusted_issuers=[],
    ).test_client()
    small = make_app(max_body_bytes=10).test_client()
    broken = exploding_app(make_settings).test_client()
    responses = {
        401: secured.post(URL, json=hook_request("patient-view")),
        413: small.post(URL, json=hook_request("patient-view")),
        500: broken.post("/cds-services/boom", json=hook_request("patient-view")),
    }
    for status, response in responses.items():
        assert response.status_code == status
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


class BrokenBody:
    """A request body whose reading fails partway, as gunicorn's reader fails on a malformed
    chunk (InvalidChunkSize, which werkzeug does not catch) or a dropped connection."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def read(self, *_args: object) -> bytes:
        raise self.error

    readline = read


@pytest.mark.parametrize("path", [URL, URL + "/feedback"])
@pytest.mark.parametrize(
    "error", [InvalidChunkSize(b"zz"), ChunkMissingTerminator(b"xx"), ConnectionResetError()]
)
def test_a_body_that_cannot_be_read_is_a_400(client, path, error) -> None:
    response = client.post(
        path,
        data=b"",
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input": BrokenBody(error), "wsgi.input_terminated": True},
    )
    assert response.status_code == 400
    issue = problem(response)
    assert issue["details"]["coding"][0]["code"] == "unreadable-body", issue
    assert issue["diagnostics"].startswith("The request body could not be read")


def test_a_fhir_bundle_posted_to_a_service_gets_a_hint(client) -> None:
    bundle = json.loads((FIXTURES / "patients" / "candidate-two-failed-trials.json").read_text())
    response = client.post(URL, json=bundle)
    assert response.status_code == 400
    issues = response.json["issue"]
    assert {i["severity"] for i in issues[:-1]} == {"error"}
    hint = issues[-1]
    assert hint["severity"] == "information"
    assert hint["details"]["coding"][0]["code"] == "hint"
    assert hint["diagnostics"].startswith("This body is a FHIR Bundle, not a CDS Hooks request.")
    assert "ketamine-cds evaluate FILE" in hint["diagnostics"]


def test_a_hook_request_with_a_wrong_field_gets_no_fhir_hint(client) -> None:
    body = hook_request("patient-view")
    body["hookInstance"] = 5
    issues = client.post(URL, json=body).json["issue"]
    assert [i["severity"] for i in issues] == ["error"]

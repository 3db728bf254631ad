"""Missing prefetch is fetched from fhirServer: a real HTTP server on loopback, not a mock."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import pytest
from werkzeug import Request, Response

from cds_service.errors import PrefetchUnavailable
from cds_service.protocol.models import HookRequest
from cds_service.protocol.prefetch import KeyState, resolve
from cds_service.services import registry
from tests.builders import hook_request, patient_bundle, searchset

TOKEN = "eyJ-fhir-access-token-7f3a"
PID = "pat-mdd-recurrent"
SERVICE = registry.dispatch("ketamine-trd-patient-view", "patient-view")


def resources_of(rtype: str) -> list[dict]:
    return [
        e["resource"] for e in patient_bundle()["entry"] if e["resource"]["resourceType"] == rtype
    ]


def serve_patient(httpserver, *, token: str | None = TOKEN) -> None:
    """Serve the fixture patient's record as an R4 server would, requiring the token if given."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    httpserver.expect_request(f"/fhir/Patient/{PID}", headers=headers).respond_with_json(
        resources_of("Patient")[0]
    )
    for rtype in (
        "Condition",
        "MedicationRequest",
        "MedicationStatement",
        "MedicationAdministration",
        "Observation",
        "AllergyIntolerance",
        "Procedure",
    ):
        httpserver.expect_request(f"/fhir/{rtype}", headers=headers).respond_with_json(
            searchset(resources_of(rtype), httpserver.url_for("/fhir"))
        )


def request_body(httpserver, *, prefetch: dict | None = None, token: str | None = TOKEN) -> dict:
    body = hook_request("patient-view", fhirServer=httpserver.url_for("/fhir"))
    body["prefetch"] = prefetch if prefetch is not None else {}
    if token:
        body["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "ketamine-cds",
        }
    return body


def run(body: dict, settings):
    request = HookRequest.model_validate(body)
    return resolve(SERVICE, request, settings)


def test_missing_keys_are_fetched_with_the_bearer_token(httpserver, settings) -> None:
    serve_patient(httpserver)
    data = run(request_body(httpserver), settings)
    assert {k: r.state for k, r in data.keys.items()} == dict.fromkeys(
        SERVICE.prefetch, KeyState.FETCHED
    )
    assert [c["id"] for c in data.by_type().get("Condition", [])] == ["cond-mdd", "cond-htn"]
    assert len(data.by_type().get("Observation", [])) == 8
    assert {r.headers.get("Authorization") for r, _ in httpserver.log} == {f"Bearer {TOKEN}"}
    observation_query = next(r.args for r, _ in httpserver.log if r.path == "/fhir/Observation")
    assert observation_query["patient"] == PID
    assert "http://loinc.org|44261-6" in observation_query["code"]


def test_without_fhir_authorization_the_server_is_called_without_a_token(httpserver, settings):
    serve_patient(httpserver, token=None)
    data = run(request_body(httpserver, token=None), settings)
    assert data.state("patient") is KeyState.FETCHED
    assert all("Authorization" not in r.headers for r, _ in httpserver.log)


def test_only_the_absent_keys_are_fetched(httpserver, settings) -> None:
    serve_patient(httpserver)
    prefetch = {
        "patient": resources_of("Patient")[0],
        "conditions": None,
        "medicationRequests": searchset(resources_of("MedicationRequest")),
        "observations": searchset([]),
    }
    data = run(request_body(httpserver, prefetch=prefetch), settings)
    assert data.state("patient") is KeyState.PREFETCHED
    assert data.state("conditions") is KeyState.EMPTY
    assert data.state("observations") is KeyState.PREFETCHED
    assert data.state("procedures") is KeyState.FETCHED
    fetched = {r.path for r, _ in httpserver.log}
    assert fetched == {
        "/fhir/MedicationStatement",
        "/fhir/MedicationAdministration",
        "/fhir/AllergyIntolerance",
        "/fhir/Procedure",
    }


def test_operation_outcome_prefetch_is_refetched(httpserver, settings) -> None:
    serve_patient(httpserver)
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    data = run(request_body(httpserver, prefetch={"conditions": outcome}), settings)
    assert data.state("conditions") is KeyState.FETCHED
    assert len(data.by_type().get("Condition", [])) == 2


def test_next_link_is_followed_with_the_token(httpserver, settings) -> None:
    serve_patient(httpserver)
    page2 = searchset(resources_of("Condition")[1:], httpserver.url_for("/fhir"))
    httpserver.expect_request(
        "/fhir/Condition-page2", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(page2)
    first = searchset(resources_of("Condition")[:1])
    first["link"].append({"relation": "next", "url": httpserver.url_for("/fhir/Condition-page2")})
    data = run(request_body(httpserver, prefetch={"conditions": first}), settings)
    assert data.state("conditions") is KeyState.PREFETCHED
    assert [c["id"] for c in data.by_type().get("Condition", [])] == ["cond-mdd", "cond-htn"]


def test_next_link_to_another_host_is_not_followed(httpserver, settings) -> None:
    serve_patient(httpserver)
    first = searchset(resources_of("Condition")[:1])
    first["link"].append({"relation": "next", "url": "http://169.254.169.254/latest/meta-data"})
    data = run(request_body(httpserver, prefetch={"conditions": first}), settings)
    assert data.state("conditions") is KeyState.INCOMPLETE
    assert "outside fhirServer" in " ".join(data.keys["conditions"].notes)
    assert [c["id"] for c in data.by_type().get("Condition", [])] == ["cond-mdd"]


def test_paging_stops_at_the_page_cap(httpserver, make_settings) -> None:
    serve_patient(httpserver)
    looping = searchset(resources_of("Condition"), httpserver.url_for("/fhir"))
    looping["link"].append({"relation": "next", "url": httpserver.url_for("/fhir/Condition")})
    httpserver.clear_all_handlers()
    httpserver.expect_request("/fhir/Condition").respond_with_json(looping)
    serve_patient(httpserver)
    data = run(request_body(httpserver), make_settings(fhir_max_pages=3, fhir_budget_s=2))
    assert data.state("conditions") is KeyState.INCOMPLETE
    assert "stopped after 3 pages" in " ".join(data.keys["conditions"].notes)
    assert sum(1 for r, _ in httpserver.log if r.path == "/fhir/Condition") == 3


def test_optional_key_failure_degrades_without_412(httpserver, settings) -> None:
    httpserver.expect_request("/fhir/Observation").respond_with_data("boom", status=500)
    serve_patient(httpserver)
    data = run(request_body(httpserver), settings)
    assert data.state("observations") is KeyState.UNAVAILABLE
    assert data.keys["observations"].notes == ["not prefetched", "fhirServer answered HTTP 500"]
    assert set(data.gaps()) == {"observations"}


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (401, "fhirServer refused access (HTTP 401)"),
        (403, "fhirServer refused access (HTTP 403)"),
        (500, "fhirServer answered HTTP 500"),
        (503, "fhirServer answered HTTP 503"),
        (302, "fhirServer answered HTTP 302"),
    ],
)
def test_server_errors_on_required_data_are_412(httpserver, client, status, reason) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_data(
        "", status=status, headers={"Location": "http://evil.example/steal"}
    )
    serve_patient(httpserver)
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    issues = response.json["issue"]
    assert [i["expression"] for i in issues] == [["prefetch.conditions"]]
    assert reason in issues[0]["diagnostics"]
    assert TOKEN not in response.get_data(as_text=True)


def test_non_fhir_answers_are_412(httpserver, client) -> None:
    httpserver.expect_request(f"/fhir/Patient/{PID}").respond_with_data("<html>login</html>")
    serve_patient(httpserver)
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    assert "not JSON" in response.json["issue"][0]["diagnostics"]


def test_unreachable_server_is_412(client, settings) -> None:
    body = hook_request("patient-view", fhirServer="http://127.0.0.1:9/fhir", prefetch={})
    response = client.post("/cds-services/ketamine-trd-patient-view", json=body)
    assert response.status_code == 412
    assert "could not be reached" in response.json["issue"][0]["diagnostics"]


def test_oversized_response_is_refused(httpserver, make_settings) -> None:
    big = searchset(
        [
            {"resourceType": "Condition", "id": f"c{i}", "note": [{"text": "x" * 500}]}
            for i in range(50)
        ]
    )
    httpserver.expect_request("/fhir/Condition").respond_with_json(big)
    serve_patient(httpserver)
    with pytest.raises(PrefetchUnavailable) as raised:
        run(request_body(httpserver), make_settings(fhir_max_response_bytes=4096))
    assert "exceeds 4096 bytes" in raised.value.failures["conditions"]


def test_slow_server_is_cut_off_by_the_time_budget(httpserver, make_app) -> None:
    finished = threading.Event()

    def slow(request: Request) -> Response:
        time.sleep(1.5)
        finished.set()
        return Response(json.dumps(searchset([])), content_type="application/fhir+json")

    httpserver.expect_request("/fhir/Condition").respond_with_handler(slow)
    serve_patient(httpserver)
    client = make_app(fhir_budget_s=0.3, fhir_read_timeout_s=0.25).test_client()
    started = time.monotonic()
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    elapsed = time.monotonic() - started
    assert response.status_code == 412
    assert (
        "in time" in response.json["issue"][0]["diagnostics"]
        or "time budget" in response.json["issue"][0]["diagnostics"]
    )
    assert elapsed < 1.0
    assert finished.wait(5), "the slow handler must finish before the shared server is reused"


def test_a_slow_name_lookup_is_cut_off_by_the_time_budget(make_app, monkeypatch) -> None:
    """getaddrinfo takes no timeout, so a slow resolver is outside the connect timeout; the
    request still answers within the budget, and the lookup ends on its own later."""
    server = "https://fhir.slow-dns.test/fhir"
    looked_up = threading.Event()
    real_getaddrinfo = socket.getaddrinfo

    def slow_lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "fhir.slow-dns.test":
            return real_getaddrinfo(host, *args, **kwargs)
        time.sleep(3.0)
        looked_up.set()
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", slow_lookup)
    client = make_app(fhir_budget_s=0.3, fhir_server_allowlist=[server]).test_client()
    body = hook_request("patient-view", fhirServer=server, prefetch={})
    started = time.monotonic()
    response = client.post("/cds-services/ketamine-trd-patient-view", json=body)
    assert response.status_code == 412
    assert "within the time budget" in response.json["issue"][0]["diagnostics"]
    assert time.monotonic() - started < 2.0  # the lookup takes 3 s
    assert looked_up.wait(10)


def test_logs_hold_neither_token_nor_patient_id_and_keep_the_request_id(
    httpserver, client, json_logs
) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_data("", status=401)
    serve_patient(httpserver)
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    text = json_logs.getvalue()
    assert TOKEN not in text
    assert PID not in text
    lines = [json.loads(line) for line in text.splitlines()]
    callbacks = [line for line in lines if line["msg"] == "fhir callback"]
    assert {line["fhir_resource"] for line in callbacks} >= {"Patient", "Condition"}
    assert {line["request_id"] for line in callbacks} == {response.headers["X-Request-ID"]}


def test_a_dripping_body_is_cut_off_and_leaves_no_thread_behind(httpserver, make_app) -> None:
    done = threading.Event()

    def drip(request: Request) -> Response:
        def body():
            try:
                yield b'{"resourceType": "Bundle", "type": "searchset", "entry": ['
                for _ in range(15):
                    time.sleep(0.1)
                    yield b" "
                yield b"]}"
            finally:
                done.set()

        return Response(body(), content_type="application/fhir+json")

    httpserver.expect_request("/fhir/Condition").respond_with_handler(drip)
    serve_patient(httpserver)
    client = make_app(fhir_budget_s=0.3, fhir_read_timeout_s=0.25).test_client()
    threads_before = threading.active_count()
    started = time.monotonic()
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    assert time.monotonic() - started < 0.8
    deadline = time.monotonic() + 1.0
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() <= threads_before
    assert done.wait(5)


def test_a_server_answering_another_patient_is_not_believed(httpserver, client) -> None:
    httpserver.expect_request(f"/fhir/Patient/{PID}").respond_with_json(
        {"resourceType": "Patient", "id": "somebody-else"}
    )
    serve_patient(httpserver)
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    assert "not the Patient asked for" in response.json["issue"][0]["diagnostics"]


def test_error_outcome_in_a_server_page_marks_the_key_incomplete(httpserver, settings) -> None:
    page = searchset(resources_of("Condition"), httpserver.url_for("/fhir"))
    page["entry"].append(
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "error", "code": "too-costly", "diagnostics": "result truncated"}
                ],
            },
            "search": {"mode": "outcome"},
        }
    )
    httpserver.expect_request("/fhir/Condition").respond_with_json(page)
    serve_patient(httpserver)
    data = run(request_body(httpserver), settings)
    assert data.state("conditions") is KeyState.INCOMPLETE
    assert "conditions" in data.gaps()
    assert "result truncated" in " ".join(data.keys["conditions"].notes)


def test_search_results_of_other_types_are_dropped(httpserver, settings) -> None:
    httpserver.expect_request("/fhir/Condition").respond_with_json(
        searchset(resources_of("Condition") + resources_of("Observation")[:1])
    )
    serve_patient(httpserver)
    data = run(request_body(httpserver), settings)
    assert [r["resourceType"] for r in data.keys["conditions"].resources] == ["Condition"] * 2


@pytest.mark.parametrize(
    "path", ["/fhir/../admin/Condition", "/fhir/%2e%2e/admin/Condition", "/other/fhir/Condition"]
)
def test_next_links_leaving_the_base_path_are_refused(httpserver, settings, path) -> None:
    serve_patient(httpserver)
    first = searchset(resources_of("Condition")[:1])
    first["link"].append({"relation": "next", "url": httpserver.url_for("/") + path.lstrip("/")})
    data = run(request_body(httpserver, prefetch={"conditions": first}), settings)
    assert data.state("conditions") is KeyState.INCOMPLETE
    assert not [r for r, _ in httpserver.log if "admin" in r.path or "other" in r.path]


def test_proxy_variables_of_the_host_are_ignored(httpserver, settings, monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    serve_patient(httpserver)
    assert run(request_body(httpserver), settings).state("conditions") is KeyState.FETCHED


def test_unexpected_fetch_errors_are_logged_without_the_token(
    httpserver, client, json_logs, monkeypatch
) -> None:
    from cds_service.protocol import fhir_client

    def broken(self, url):
        raise RuntimeError(f"crash while holding {self._token}")

    monkeypatch.setattr(fhir_client.FhirClient, "_get", broken)
    response = client.post("/cds-services/ketamine-trd-patient-view", json=request_body(httpserver))
    assert response.status_code == 412
    assert "fetching it failed unexpectedly" in response.get_data(as_text=True)
    assert "RuntimeError (message withheld)" in json_logs.getvalue()
    assert TOKEN not in json_logs.getvalue()

"""App-wide behaviour: unexpected errors, unknown routes, health, CORS, logs without PHI."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from cds_service.app import create_app
from cds_service.logs import JsonFormatter, configure_logging
from cds_service.protocol.discovery import ServiceRegistry
from tests.builders import hook_request

PATIENT_NAME = "Alex Rivera"


def exploding_app(make_settings, error: Exception | None = None):
    """An app whose one service, ``boom``, raises ``error`` (by default one naming a patient)."""
    registry = ServiceRegistry()

    @registry.service(
        id="boom",
        hook="patient-view",
        title="T",
        description="D",
        prefetch={"patient": "Patient/{{context.patientId}}"},
        usage_requirements="U",
    )
    def boom(call):
        raise error or ValueError(f"bad data for {PATIENT_NAME}")

    return create_app(make_settings(), registry=registry)


def test_unexpected_exception_is_a_generic_500_operation_outcome(make_settings, caplog):
    app = exploding_app(make_settings)
    response = app.test_client().post(
        "/cds-services/boom", json=hook_request("patient-view"), headers={"X-Request-ID": "req-42"}
    )
    assert response.status_code == 500
    assert response.json["resourceType"] == "OperationOutcome"
    assert "req-42" in response.json["issue"][0]["diagnostics"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and PATIENT_NAME not in text and "ValueError" not in text
    error = next(r for r in caplog.records if r.getMessage() == "unhandled error")
    formatted = JsonFormatter().format(error)
    assert "ValueError (message withheld)" in formatted
    assert "in boom" in formatted
    assert PATIENT_NAME not in formatted


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/cds-services/ketamine-order-sign", 405),
        ("DELETE", "/cds-services", 405),
        ("GET", "/cds-services/ketamine-order-sign/feedback", 405),
    ],
)
def test_unknown_routes_and_methods_get_operation_outcomes(client, method, path, status) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.json["issue"][0]["details"]["coding"][0]["code"] == f"http-{status}"


def test_healthz_reports_the_database(client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok"}}


def test_healthz_is_503_when_the_database_is_gone(app, client, settings) -> None:
    shutil.rmtree(settings.data_dir)
    app.extensions["ketamine_cds"].db.dispose()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "checks": {"database": "unreachable"}}


PREFLIGHT = {
    "Origin": "https://sandbox.cds-hooks.org",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.mark.parametrize(
    "path",
    [
        "/cds-services",
        "/cds-services/ketamine-order-sign",
        "/cds-services/ketamine-order-sign/feedback",
    ],
)
def test_preflight_is_answered_without_authentication(client, path: str) -> None:
    response = client.options(path, headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_production_cors_allows_only_listed_origins(make_app) -> None:
    client = make_app(cors_origins=["https://ehr.example.org"]).test_client()
    allowed = client.options(
        "/cds-services", headers={**PREFLIGHT, "Origin": "https://ehr.example.org"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    refused = client.options("/cds-services", headers=PREFLIGHT)
    assert "Access-Control-Allow-Origin" not in refused.headers
    simple = client.get("/cds-services", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in simple.headers


def test_cors_headers_are_on_error_responses_too(client) -> None:
    response = client.post(
        "/cds-services/nope", json={}, headers={"Origin": "https://sandbox.cds-hooks.org"}
    )
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_each_request_logs_one_json_line_with_its_request_id(client, json_logs) -> None:
    response = client.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view")
    )
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    access = [line for line in lines if line["msg"] == "request"]
    assert len(access) == 1
    assert access[0]["request_id"] == response.headers["X-Request-ID"]
    assert access[0]["status"] == 200
    assert access[0]["service"] == "ketamine-trd-patient-view"
    assert "pat-mdd-recurrent" not in json_logs.getvalue()
    assert PATIENT_NAME.split()[0] not in json_logs.getvalue()


def test_a_client_request_id_is_kept_and_a_malformed_one_replaced(client) -> None:
    kept = client.get("/cds-services", headers={"X-Request-ID": "ehr-7f3a"})
    assert kept.headers["X-Request-ID"] == "ehr-7f3a"
    replaced = client.get("/cds-services", headers={"X-Request-ID": "bad id; " + "x" * 80})
    assert not replaced.headers["X-Request-ID"].startswith("bad")
    assert len(replaced.headers["X-Request-ID"]) == 32


def test_text_log_format_is_available(capsys) -> None:
    configure_logging("INFO", "text")
    logging.getLogger("cds_service.test").info("hello")
    assert "INFO [-] cds_service.test: hello" in capsys.readouterr().err
    configure_logging("INFO", "json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/cds-services/"),
        ("POST", "/cds-services//ketamine-trd-patient-view"),
        ("OPTIONS", "/cds-services//ketamine-trd-patient-view"),
        ("POST", "/cds-services//ketamine-order-sign//feedback"),
        ("OPTIONS", "/cds-services//ketamine-order-sign/feedback/"),
    ],
)
def test_sandbox_slash_quirks_are_routed_without_redirects(client, method, path) -> None:
    body = None
    if method == "POST":
        body = (
            {
                "feedback": [
                    {
                        "card": "c1",
                        "outcome": "overridden",
                        "outcomeTimestamp": "2026-03-02T10:00:00Z",
                    }
                ]
            }
            if path.endswith("feedback")
            else hook_request("patient-view")
        )
    response = client.open(path, method=method, json=body, headers=PREFLIGHT)
    assert response.status_code == 200

"""/metrics in one process: request, card and FHIR callback counts move as calls are made."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.builders import hook_request
from tests.protocol.test_fhir_fallback import request_body, serve_patient

URL = "/cds-services/ketamine-trd-patient-view"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_requests_latency_and_cards_are_counted(client) -> None:
    ok = {"service": "ketamine-trd-patient-view", "hook": "patient-view", "status": "200"}
    before = value("ketamine_cds_requests_total", **ok)
    cards = value("ketamine_cds_cards_total", topic="ketamine-eligibility", decision="candidate")
    latency = value("ketamine_cds_request_seconds_count", service="ketamine-trd-patient-view")
    client.post(URL, json=hook_request("patient-view"))
    client.post(URL, data="{")
    client.post("/cds-services/no-such-service", json=hook_request("patient-view"))
    assert value("ketamine_cds_requests_total", **ok) == before + 1
    assert (
        value("ketamine_cds_cards_total", topic="ketamine-eligibility", decision="candidate")
        == cards + 1
    )
    assert (
        value("ketamine_cds_request_seconds_count", service="ketamine-trd-patient-view")
        == latency + 2
    )
    assert value("ketamine_cds_requests_total", service="unknown", hook="-", status="404") >= 1

    text = client.get("/metrics").get_data(as_text=True)
    assert (
        'ketamine_cds_requests_total{hook="patient-view",service="ketamine-trd-patient-view",status="200"}'
        in text
    )


def test_fhir_callbacks_and_their_failures_are_counted(make_app, httpserver) -> None:
    serve_patient(httpserver)
    httpserver.clear()
    httpserver.expect_request("/fhir/Patient/pat-mdd-recurrent").respond_with_data("", status=503)
    failures = value("ketamine_cds_fhir_callback_failures_total", kind="http-5xx")
    calls = value("ketamine_cds_fhir_callback_seconds_count", resource="Patient", status="503")
    make_app().test_client().post(URL, json=request_body(httpserver))
    assert value("ketamine_cds_fhir_callback_failures_total", kind="http-5xx") >= failures + 1
    assert (
        value("ketamine_cds_fhir_callback_seconds_count", resource="Patient", status="503")
        == calls + 1
    )

"""The console's page and JSON API through the test client; test_console_browser drives Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from cds_service.console.catalog import build_console_request, scenarios
from cds_service.fixture_loader import ANCHOR, fixture_names, load_fixture
from tests.conftest import NOW


def test_the_page_has_its_own_policy_allowing_only_its_own_scripts(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert b'src="/console/static/console.js"' in response.data


def test_static_assets_load_from_this_service_only(client: FlaskClient) -> None:
    for name in ("console.js", "markdown.js", "console.css"):
        response = client.get(f"/console/static/{name}")
        body = response.get_data()
        response.close()
        assert response.status_code == 200, name
        assert b"http://" not in body and b"https://" not in body, name


def test_scenarios_list_every_fixture_patient_with_story_and_services(
    client: FlaskClient,
) -> None:
    body = client.get("/console/api/scenarios").get_json()

    assert [s["name"] for s in body["scenarios"]] == fixture_names("patients")
    by_name = {s["name"]: s for s in body["scenarios"]}
    assert by_name["defer-recent-nstemi"]["story"].startswith("TRD met; 66 years old")
    assert by_name["order-sign-esketamine-with-lorazepam-draft"]["ownOrders"] == ["order-sign"]
    assert "ownOrders" not in by_name["candidate-two-failed-trials"]
    assert body["services"]["patient-view"] == "ketamine-trd-patient-view"
    assert {o["key"] for o in body["orders"]} == {"ketamine-iv", "esketamine", "ect", "tms"}
    assert body["today"] == NOW.date().isoformat()


def test_a_built_patient_view_request_gets_the_scenarios_expected_card(
    client: FlaskClient,
) -> None:
    request = client.get(
        "/console/api/request?scenario=defer-hypertensive-crisis&hook=patient-view"
    ).get_json()
    cards = client.post("/cds-services/ketamine-trd-patient-view", json=request).get_json()

    expected = load_fixture("expected", "defer-hypertensive-crisis")["cards"]
    assert [c["source"]["topic"]["code"] for c in cards["cards"]] == [e["topic"] for e in expected]
    assert cards["cards"][0]["indicator"] == expected[0]["indicator"] == "critical"
    assert "184/112" in cards["cards"][0]["detail"]


@pytest.mark.parametrize(
    ("order", "topic", "phrase"),
    [
        ("ketamine-iv", "ketamine-eligibility", "IV ketamine order"),
        ("esketamine", "ketamine-eligibility", "Esketamine order"),
        ("ect", "neuromodulation-safety", "ECT"),
        ("tms", "neuromodulation-safety", "TMS"),
    ],
)
def test_each_draft_order_reaches_the_order_sign_service(
    client: FlaskClient, order: str, topic: str, phrase: str
) -> None:
    request = client.get(
        "/console/api/request",
        query_string={
            "scenario": "candidate-two-failed-trials",
            "hook": "order-sign",
            "order": order,
        },
    ).get_json()

    drafts = request["context"]["draftOrders"]["entry"]
    assert [d["resource"]["subject"]["reference"] for d in drafts] == [
        "Patient/pat-candidate-two-failed-trials"
    ]
    cards = client.post("/cds-services/ketamine-order-sign", json=request).get_json()["cards"]
    topics = [c["source"]["topic"]["code"] for c in cards]
    assert topic in topics
    assert any(phrase in c["summary"] for c in cards), [c["summary"] for c in cards]


def test_order_select_with_the_scenarios_own_orders_keeps_its_selection(
    client: FlaskClient,
) -> None:
    request = client.get(
        "/console/api/request",
        query_string={
            "scenario": "order-select-focuses-on-the-selection",
            "hook": "order-select",
            "order": "scenario",
        },
    ).get_json()

    fixture = load_fixture("requests/order-select", "order-select-focuses-on-the-selection")
    assert request["context"]["selections"] == fixture["context"]["selections"]
    assert len(request["context"]["draftOrders"]["entry"]) == 2


def test_requests_are_dated_today_so_windows_never_lapse() -> None:
    later = ANCHOR.replace(year=ANCHOR.year + 1)
    request = build_console_request(
        "candidate-two-failed-trials", "order-sign", "esketamine", later
    )

    order = request["context"]["draftOrders"]["entry"][0]["resource"]
    assert order["authoredOn"] == later.isoformat()
    observations = request["prefetch"]["observations"]["entry"]
    latest = max(o["resource"]["effectiveDateTime"][:10] for o in observations)
    assert ANCHOR.isoformat() < latest <= later.isoformat()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"hook": "patient-view"}, "missing query parameter scenario"),
        ({"scenario": "nobody", "hook": "patient-view"}, "unknown scenario 'nobody'"),
        ({"scenario": "candidate-two-failed-trials", "hook": "order-dispatch"}, "unknown hook"),
        (
            {"scenario": "candidate-two-failed-trials", "hook": "order-sign", "order": "lithium"},
            "unknown draft order 'lithium'",
        ),
        (
            {"scenario": "candidate-two-failed-trials", "hook": "order-sign", "order": "scenario"},
            "has no draft orders of its own",
        ),
    ],
)
def test_bad_console_parameters_are_400_with_the_reason(
    client: FlaskClient, query: dict[str, str], message: str
) -> None:
    response = client.get("/console/api/request", query_string=query)

    assert response.status_code == 400
    assert message in response.get_json()["issue"][0]["diagnostics"]


def test_with_authentication_on_the_console_is_not_served(make_app: Any) -> None:
    client = make_app(
        auth_enabled=True,
        public_base_url="https://cds.example.org",
        trusted_issuers=[{"iss": "https://ehr.example.org", "jwks_file": __file__}],
    ).test_client()

    for path in ("/", "/console/api/scenarios", "/console/static/console.js"):
        response = client.get(path)
        response.close()
        assert response.status_code == 404, path
        assert response.get_json()["issue"][0]["details"]["coding"][0]["code"] == (
            "console-disabled"
        )


def test_every_scenario_builds_a_request_for_every_hook_it_can_serve() -> None:
    for scenario in scenarios():
        request = build_console_request(scenario.name, "patient-view", "", ANCHOR)
        assert request["context"]["patientId"] == scenario.patient_id
        for hook in scenario.order_hooks:
            built = build_console_request(scenario.name, hook, "scenario", ANCHOR)
            assert built["context"]["draftOrders"]["entry"], (scenario.name, hook)

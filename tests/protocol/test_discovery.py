"""GET /cds-services lists the three services of the README."""

from __future__ import annotations

import re

import pytest

from cds_service.app import create_app
from cds_service.protocol.discovery import ServiceRegistry
from cds_service.protocol.prefetch import fill_template
from tests.builders import hook_request

EXPECTED = {
    "ketamine-trd-patient-view": "patient-view",
    "ketamine-order-select": "order-select",
    "ketamine-order-sign": "order-sign",
}


def test_discovery_lists_the_three_services_with_their_hooks(client) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = {s["id"]: s for s in response.json["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == EXPECTED
    for service in services.values():
        assert service["title"] and service["description"] and service["usageRequirements"]


def test_every_service_declares_the_design_prefetch_templates(client) -> None:
    for service in client.get("/cds-services").json["services"]:
        prefetch = service["prefetch"]
        assert prefetch["patient"] == "Patient/{{context.patientId}}"
        for key, rtype in [
            ("conditions", "Condition"),
            ("medicationRequests", "MedicationRequest"),
            ("medicationStatements", "MedicationStatement"),
            ("medicationAdministrations", "MedicationAdministration"),
            ("allergies", "AllergyIntolerance"),
            ("procedures", "Procedure"),
        ]:
            assert prefetch[key] == f"{rtype}?patient={{{{context.patientId}}}}"
        assert "http://loinc.org|44261-6" in prefetch["observations"]  # PHQ-9 total
        assert "http://loinc.org|85354-9" in prefetch["observations"]  # BP panel


def test_templates_use_only_root_context_or_user_tokens(client) -> None:
    token = re.compile(r"\{\{(.*?)\}\}")
    allowed = re.compile(
        r"^(context\.[A-Za-z]+|user(Practitioner|PractitionerRole|Patient|"
        r"RelatedPerson)Id)$"
    )
    for service in client.get("/cds-services").json["services"]:
        for template in service["prefetch"].values():
            assert all(allowed.match(t) for t in token.findall(template)), template
            assert "sort:desc" not in template


def register(registry: ServiceRegistry, service_id: str, hook: str, **extra) -> None:
    prefetch = extra.pop("prefetch", {"patient": "Patient/{{context.patientId}}"})
    registry.service(
        id=service_id,
        hook=hook,
        title="T",
        description="D",
        prefetch=prefetch,
        usage_requirements="U",
        **extra,
    )(lambda call: [])


def test_registry_refuses_duplicates_unknown_hooks_and_untemplated_requirements() -> None:
    registry = ServiceRegistry()
    register(registry, "x", "patient-view")
    with pytest.raises(ValueError, match="registered twice"):
        register(registry, "x", "patient-view")
    with pytest.raises(ValueError, match="not supported"):
        register(registry, "y", "appointment-book")
    with pytest.raises(ValueError, match="no prefetch template"):
        register(registry, "z", "patient-view", prefetch={}, required=[("patient",)])
    assert [s.id for s in registry] == ["x"]


@pytest.mark.parametrize(
    "template",
    [
        "MedicationRequest?_id={{context.draftOrders}}",
        "MedicationRequest?_id={{context.selections}}",
        "Patient/{{Patient.id}}",
        "Patient/{{context.medication.id}}",
        "Practitioner/{{user}}",
    ],
)
def test_templates_with_tokens_the_hook_cannot_fill_are_refused(template: str) -> None:
    with pytest.raises(ValueError, match="cannot fill"):
        register(ServiceRegistry(), "x", "order-select", prefetch={"k": template})


def test_one_id_serving_two_hooks_is_dispatched_on_the_body_hook(make_settings) -> None:
    registry = ServiceRegistry()
    seen: list[str] = []
    for hook in ("patient-view", "order-sign"):
        registry.service(
            id="dual",
            hook=hook,
            title="T",
            description="D",
            prefetch={"patient": "Patient/{{context.patientId}}"},
            usage_requirements="U",
        )(lambda call, hook=hook: seen.append(hook) or [])
    client = create_app(make_settings(), registry=registry).test_client()
    for hook in ("patient-view", "order-sign", "order-select"):
        body = hook_request(hook)
        response = client.post("/cds-services/dual", json=body)
        assert response.status_code == (400 if hook == "order-select" else 200)
    assert seen == ["patient-view", "order-sign"]
    assert [s["hook"] for s in client.get("/cds-services").json["services"]] == seen


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Patient/{{context.patientId}}", {"patientId": "p1"}, "Patient/p1"),
        ("Encounter/{{context.encounterId}}", {"patientId": "p1"}, None),
        ("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/abc"}, "Practitioner/abc"),
        ("{{context.userId}}", {"userId": "PractitionerRole/r1"}, "PractitionerRole/r1"),
        ("PractitionerRole?_id={{userPractitionerRoleId}}", {"userId": "Practitioner/abc"}, None),
        ("X?s={{context.selections}}", {"selections": ["A/1"]}, None),
        (
            "Observation?patient={{ context.patientId }}&code=a|b",
            {"patientId": "p 1"},
            "Observation?patient=p%201&code=a|b",
        ),
    ],
)
def test_fill_template(template: str, context: dict, expected: str | None) -> None:
    assert fill_template(template, context) == expected

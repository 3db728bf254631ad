"""Outbound models enforce the spec's card invariants and never serialise empties (G-02/G-03)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from cds_service.protocol.models import (
    Action,
    Card,
    CdsResponse,
    Coding,
    DiscoveryResponse,
    FeedbackItem,
    HookRequest,
    Link,
    OverrideReason,
    Source,
    Suggestion,
    prune,
)
from tests.contract import empties, validate

SOURCE = Source(label="Ketamine CDS", topic=Coding(system="https://example.org/cs", code="t"))


def card(**fields: object) -> Card:
    return Card(**{"summary": "Summary", "indicator": "info", "source": SOURCE, **fields})


def create_action() -> Action:
    return Action(
        type="create",
        description="Refer for TMS evaluation",
        resource={"resourceType": "ServiceRequest", "status": "draft"},
    )


def test_dump_omits_none_and_empty_values() -> None:
    dumped = CdsResponse(cards=[card(detail=None, links=[], extension={})]).dump()
    assert empties(dumped) == []
    assert set(dumped["cards"][0]) == {"uuid", "summary", "indicator", "source"}
    validate("cds-response", dumped)


def test_dump_keeps_empty_cards_and_services_arrays() -> None:
    assert CdsResponse().dump() == {"cards": []}
    assert DiscoveryResponse().dump() == {"services": []}


def test_prune_removes_empties_inside_fhir_resources() -> None:
    resource = {"resourceType": "ServiceRequest", "note": [], "code": {"text": ""}, "id": "a"}
    assert prune(resource) == {"resourceType": "ServiceRequest", "id": "a"}


@pytest.mark.parametrize(("length", "ok"), [(139, True), (140, False), (0, False)])
def test_summary_must_be_under_140_characters(length: int, ok: bool) -> None:
    if ok:
        assert len(card(summary="x" * length).summary) == length
    else:
        with pytest.raises(ValidationError):
            card(summary="x" * length)


def test_suggestions_require_selection_behavior() -> None:
    with pytest.raises(ValidationError, match="selectionBehavior"):
        card(suggestions=[Suggestion(label="Refer", actions=[create_action()])])


def test_at_most_one_allows_a_single_recommended_suggestion() -> None:
    two = [Suggestion(label=f"S{i}", isRecommended=True) for i in range(2)]
    with pytest.raises(ValidationError, match="at-most-one"):
        card(suggestions=two, selectionBehavior="at-most-one")
    assert len(card(suggestions=two, selectionBehavior="any").suggestions or []) == 2


def test_selection_behavior_outside_the_enum_is_refused() -> None:
    with pytest.raises(ValidationError):
        card(suggestions=[Suggestion(label="S")], selectionBehavior="all")


def test_override_reasons_need_display() -> None:
    with pytest.raises(ValidationError):
        OverrideReason(system="https://example.org/cs", code="patient-declined")
    reason = OverrideReason(system="https://example.org/cs", code="x", display="Patient declined")
    assert (
        card(overrideReasons=[reason]).dump()["overrideReasons"][0]["display"] == "Patient declined"
    )


def test_app_context_only_on_smart_links() -> None:
    with pytest.raises(ValidationError, match="smart"):
        Link(label="App", url="https://app.example.org", type="absolute", appContext="{}")
    smart = Link(label="App", url="https://app.example.org/launch", type="smart", appContext="x")
    assert smart.appContext == "x"


def test_links_and_source_urls_must_be_absolute() -> None:
    with pytest.raises(ValidationError):
        Link(label="Label", url="/relative/path", type="absolute")
    with pytest.raises(ValidationError):
        Source(label="S", url="www.example.org")


def test_every_card_and_suggestion_gets_a_fresh_uuid() -> None:
    first, second = card(), card()
    s1, s2 = Suggestion(label="A"), Suggestion(label="B")
    ids = {first.uuid, second.uuid, s1.uuid, s2.uuid}
    assert len(ids) == 4
    assert all(uuid.UUID(value).version == 4 for value in ids)


def test_duplicate_uuids_in_one_response_are_refused() -> None:
    shared = card()
    with pytest.raises(ValidationError, match="unique"):
        CdsResponse(cards=[shared, shared])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": "create"}, "resource"),
        ({"type": "update", "resource": {"id": "x"}}, "resourceType"),
        ({"type": "delete"}, "resourceId"),
        (
            {
                "type": "delete",
                "resourceId": "MedicationRequest/1",
                "resource": {"resourceType": "MedicationRequest"},
            },
            "no resource",
        ),
        ({"type": "delete", "resourceId": "just-an-id"}, "pattern"),
    ],
)
def test_actions_carry_what_their_type_needs(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Action(description="Remove the draft order", **fields)


def test_a_delete_action_by_resource_id_serialises_without_resource() -> None:
    action = Action(
        type="delete",
        description="Remove the draft esketamine order",
        resourceId="MedicationRequest/request-123",
    )
    assert action.dump() == {
        "type": "delete",
        "description": "Remove the draft esketamine order",
        "resourceId": "MedicationRequest/request-123",
    }


def test_outbound_models_refuse_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        Card(summary="S", indicator="info", source=SOURCE, colour="red")


def test_inbound_request_tolerates_unknown_keys_and_extension() -> None:
    request = HookRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": "abc",
            "context": {"patientId": "p"},
            "extension": {"com.example.tenant": "t1"},
            "vendorField": 1,
        }
    )
    assert request.extension == {"com.example.tenant": "t1"}


def test_fhir_server_trailing_slash_is_dropped_and_http_is_tolerated() -> None:
    request = HookRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": "abc",
            "context": {},
            "fhirServer": "http://localhost:9080/fhir/",
        }
    )
    assert request.fhirServer == "http://localhost:9080/fhir"


def test_access_token_never_appears_in_repr() -> None:
    request = HookRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": "abc",
            "context": {},
            "fhirServer": "https://ehr.example.org/fhir",
            "fhirAuthorization": {
                "access_token": "s3cr3t-token",
                "token_type": "Bearer",
                "expires_in": 300,
                "scope": "patient/*.read",
                "subject": "cds",
            },
        }
    )
    assert "s3cr3t-token" not in repr(request)
    assert "s3cr3t-token" not in str(request.model_dump())


def test_feedback_timestamps_normalise_to_utc() -> None:
    item = FeedbackItem.model_validate(
        {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-03-02T05:05:31.120-05:00"}
    )
    assert item.outcomeTimestamp.isoformat() == "2026-03-02T10:05:31.120000+00:00"


def test_feedback_timestamp_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match="ISO 8601"):
        FeedbackItem.model_validate(
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": 1772445931}
        )


@pytest.mark.parametrize("value", ["", "not-a-uuid", "123"])
def test_card_and_suggestion_uuids_must_be_uuids(value: str) -> None:
    with pytest.raises(ValidationError):
        card(uuid=value)
    with pytest.raises(ValidationError):
        Suggestion(label="S", uuid=value)

"""Each prefetch state (P-07/P-08) is judged as the spec describes, before any fetching."""

from __future__ import annotations

import pytest

from cds_service.protocol.prefetch import KeyState, PrefetchData, Template, classify
from tests.builders import searchset

CONDITION = {"resourceType": "Condition", "id": "c1"}
PATIENT = {"resourceType": "Patient", "id": "p1"}
OUTCOME_ERROR = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "backend slow"}],
}


def conditions(value, present=True):
    return classify("conditions", value, present=present, resource_type="Condition")


def patient(value, read_id="p1"):
    return classify("patient", value, present=True, resource_type="Patient", read_id=read_id)


def with_outcome(resources, outcome):
    bundle = searchset(resources)
    bundle.setdefault("entry", []).append({"resource": outcome, "search": {"mode": "outcome"}})
    return bundle


def test_present_resource_is_prefetched() -> None:
    result = patient(PATIENT)
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [PATIENT])


def test_absent_key_is_unavailable_until_fetched() -> None:
    result = conditions(None, present=False)
    assert (result.state, result.notes) == (KeyState.UNAVAILABLE, ["not prefetched"])


def test_null_means_known_empty() -> None:
    # Spec §Prefetch: "If the client has no data ... the value of the key MUST be null."
    assert conditions(None).state is KeyState.EMPTY


def test_empty_searchset_is_prefetched_with_no_resources() -> None:
    result = conditions(searchset([]))
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [])


def test_operation_outcome_value_is_unavailable_with_its_reason() -> None:
    result = conditions(OUTCOME_ERROR)
    assert result.state is KeyState.UNAVAILABLE
    assert result.notes == ["client could not prefetch: error (timeout): backend slow"]


def test_searchset_with_warning_outcome_entry_keeps_its_resources() -> None:
    warning = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "warning", "code": "informational", "diagnostics": "Codes unmapped"}
        ],
    }
    result = conditions(with_outcome([CONDITION], warning))
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [CONDITION])
    assert result.notes == ["client reported: warning (informational): Codes unmapped"]


def test_searchset_with_error_outcome_entry_is_incomplete() -> None:
    result = conditions(with_outcome([CONDITION], OUTCOME_ERROR))
    assert (result.state, result.resources) == (KeyState.INCOMPLETE, [CONDITION])


def test_searchset_holding_only_an_error_outcome_is_unavailable() -> None:
    assert conditions(with_outcome([], OUTCOME_ERROR)).state is KeyState.UNAVAILABLE


def test_error_outcome_beside_a_next_link_is_refetched_not_continued() -> None:
    bundle = with_outcome([CONDITION], OUTCOME_ERROR)
    bundle["link"].append({"relation": "next", "url": "http://ehr/fhir/Condition?page=2"})
    result = conditions(bundle)
    assert (result.state, result.next_url) == (KeyState.INCOMPLETE, None)


def test_searchset_with_next_link_is_incomplete_and_remembers_the_link() -> None:
    bundle = searchset([CONDITION])
    bundle["link"].append({"relation": "next", "url": "http://ehr/fhir/Condition?page=2"})
    result = conditions(bundle)
    assert result.state is KeyState.INCOMPLETE
    assert result.next_url == "http://ehr/fhir/Condition?page=2"


@pytest.mark.parametrize("value", ["123", 5, True, [CONDITION], {"id": "x"}, {"resourceType": 7}])
def test_values_that_are_not_fhir_resources_are_ignored(value) -> None:
    result = conditions(value)
    assert result.state is KeyState.UNAVAILABLE
    assert "not a FHIR resource" in result.notes[0]


@pytest.mark.parametrize(
    "value",
    [
        {"resourceType": "Bundle", "entry": 5},
        {"resourceType": "Bundle", "entry": True},
        {"resourceType": "Bundle", "entry": [{"resource": CONDITION, "search": "match"}]},
        {"resourceType": "Bundle", "entry": [{"resource": CONDITION, "search": [1]}]},
        {"resourceType": "Bundle", "link": 5, "entry": [{"resource": CONDITION}]},
        {"resourceType": "Bundle", "link": [5, {"relation": "next", "url": 3}]},
        {"resourceType": "OperationOutcome", "issue": 5},
        {"resourceType": "OperationOutcome", "issue": [{"details": "x", "severity": ["e"]}]},
        with_outcome([CONDITION], {"resourceType": "OperationOutcome", "issue": 7}),
        with_outcome([], {"resourceType": "OperationOutcome", "issue": [{"details": "s"}]}),
        {"resourceType": "Bundle", "entry": [7, None, "x", {"resource": [1]}]},
    ],
)
def test_malformed_bundles_and_outcomes_never_raise(value) -> None:
    result = conditions(value)
    assert result.state in (KeyState.PREFETCHED, KeyState.UNAVAILABLE)
    assert all(r["resourceType"] == "Condition" for r in result.resources)


def test_resources_of_other_types_are_dropped_with_a_note() -> None:
    result = conditions(searchset([CONDITION, PATIENT]))
    assert result.resources == [CONDITION]
    assert result.notes == ["1 resources that are not Condition were ignored"]


def test_a_patient_other_than_the_context_patient_is_never_accepted() -> None:
    result = patient({"resourceType": "Patient", "id": "someone-else"})
    assert result.state is KeyState.UNAVAILABLE
    assert result.resources == []
    assert "holds no Patient for this context" in result.notes[0]


def test_a_read_key_tolerates_a_bundle_holding_the_resource() -> None:
    result = patient(searchset([{"resourceType": "Patient", "id": "other"}, PATIENT]))
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [PATIENT])


def test_a_read_key_given_a_condition_is_unavailable() -> None:
    assert patient(CONDITION).state is KeyState.UNAVAILABLE


def test_templates_know_their_type_and_read_id() -> None:
    read = Template("Patient/{{context.patientId}}")
    search = Template("Observation?patient={{context.patientId}}&code=a|b")
    assert (read.resource_type, read.is_read, read.read_id("Patient/p1")) == ("Patient", True, "p1")
    assert (search.resource_type, search.is_read) == ("Observation", False)
    assert search.read_id("Observation?patient=p1") is None


def test_bundle_without_type_and_entries_without_resources_are_tolerated() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": CONDITION}, {"fullUrl": "x"}, 7]}
    result = conditions(bundle)
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [CONDITION])
    assert result.notes == ["2 searchset entries without a resource were ignored"]


def test_resources_are_deduplicated_across_keys() -> None:
    other = {"resourceType": "Condition", "id": "c2"}
    data = PrefetchData(
        {"a": conditions(searchset([CONDITION, other])), "b": conditions(searchset([other]))}
    )
    assert data.by_type() == {"Condition": [CONDITION, other]}
    assert data.by_type(lambda resource: resource["id"] == "c2") == {"Condition": [other]}

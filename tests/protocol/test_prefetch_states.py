"""Each prefetch state (P-07/P-08) is judged as the spec describes, before any fetching."""

from __future__ import annotations

from cds_service.protocol.prefetch import KeyState, PrefetchData, classify
from tests.builders import searchset

CONDITION = {"resourceType": "Condition", "id": "c1"}
OUTCOME_ERROR = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "timeout", "diagnostics": "backend slow"}],
}


def test_present_resource_is_prefetched() -> None:
    result = classify("patient", {"resourceType": "Patient", "id": "p"}, present=True)
    assert result.state is KeyState.PREFETCHED
    assert result.resources == [{"resourceType": "Patient", "id": "p"}]


def test_absent_key_is_unavailable_until_fetched() -> None:
    result = classify("conditions", None, present=False)
    assert result.state is KeyState.UNAVAILABLE
    assert result.notes == ["not prefetched"]


def test_null_means_known_empty() -> None:
    # Spec §Prefetch: "If the client has no data ... the value of the key MUST be null."
    result = classify("conditions", None, present=True)
    assert result.state is KeyState.EMPTY
    assert result.resources == []


def test_empty_searchset_is_prefetched_with_no_resources() -> None:
    result = classify("conditions", searchset([]), present=True)
    assert (result.state, result.resources) == (KeyState.PREFETCHED, [])


def test_operation_outcome_value_is_unavailable_with_its_reason() -> None:
    result = classify("conditions", OUTCOME_ERROR, present=True)
    assert result.state is KeyState.UNAVAILABLE
    assert result.notes == ["client could not prefetch: error (timeout): backend slow"]


def test_searchset_with_warning_outcome_entry_keeps_its_resources() -> None:
    bundle = searchset([CONDITION])
    bundle["entry"].append(
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [
                    {
                        "severity": "warning",
                        "code": "informational",
                        "diagnostics": "Some codes unmapped",
                    }
                ],
            },
            "search": {"mode": "outcome"},
        }
    )
    result = classify("conditions", bundle, present=True)
    assert result.state is KeyState.PREFETCHED
    assert result.resources == [CONDITION]
    assert result.notes == ["client reported: warning (informational): Some codes unmapped"]


def test_searchset_with_error_outcome_entry_is_incomplete() -> None:
    bundle = searchset([CONDITION])
    bundle["entry"].append({"resource": OUTCOME_ERROR, "search": {"mode": "outcome"}})
    result = classify("conditions", bundle, present=True)
    assert result.state is KeyState.INCOMPLETE
    assert result.resources == [CONDITION]


def test_searchset_with_next_link_is_incomplete_and_remembers_the_link() -> None:
    bundle = searchset([CONDITION])
    bundle["link"].append({"relation": "next", "url": "http://ehr/fhir/Condition?page=2"})
    result = classify("conditions", bundle, present=True)
    assert result.state is KeyState.INCOMPLETE
    assert result.next_url == "http://ehr/fhir/Condition?page=2"


def test_values_that_are_not_fhir_resources_are_ignored() -> None:
    for value in ("123", 5, [CONDITION], {"id": "x"}):
        result = classify("conditions", value, present=True)
        assert result.state is KeyState.UNAVAILABLE
        assert "not a FHIR resource" in result.notes[0]


def test_bundle_without_type_and_entries_without_resources_are_tolerated() -> None:
    bundle = {"resourceType": "Bundle", "entry": [{"resource": CONDITION}, {"fullUrl": "x"}, 7]}
    result = classify("conditions", bundle, present=True)
    assert result.resources == [CONDITION]
    assert result.state is KeyState.PREFETCHED


def test_resources_are_deduplicated_across_keys() -> None:
    med = {"resourceType": "Medication", "id": "m1"}
    data = PrefetchData(
        {
            "a": classify("a", searchset([CONDITION, med]), present=True),
            "b": classify("b", searchset([med]), present=True),
        }
    )
    assert data.resources() == [CONDITION, med]
    assert data.resources("Medication") == [med]

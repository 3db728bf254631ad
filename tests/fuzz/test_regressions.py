"""Bugs the robustness work found, each pinned by a test.

* Two text regexes backtracked quadratically, so one request with a long text field held a
  worker for minutes (or hours): the ketamine-infusion test on a ServiceRequest's code.text,
  and the dose read from a dosage's free text. Both are linear now and decide as before.
* JSON may nest 1,024 deep, Python's ``str()`` about 1,000: a unit (Quantity.code), a draft's
  resourceType or a blood pressure's effectiveDateTime holding an array nested ~1,000 deep
  raised RecursionError, a 500. The record layer now reads only scalars there.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.fixture_loader import load_fixture
from cds_service.record.dosage import _TEXT_AMOUNT
from cds_service.record.orders import names_ketamine_infusion
from cds_service.record.values import scalar_text
from tests.fuzz.mutations import JsonPath, examples, set_at, within

# The expressions as they were: the oracles for what the linear versions must decide.
OLD_INFUSION = re.compile(r"\bketamine\b.*\binfusion|\binfusion\b.*\bketamine\b", re.I)
OLD_AMOUNT = re.compile(
    r"(\d+(?:\.\d+)?)\s*(mg|milligrams?|tablets?|tabs?|capsules?|caps?)\b", re.I
)
LINEAR_SECONDS = 2.0  # the old expressions took minutes on these inputs

WORDS = ["ketamine", "Ketamine", "ketamines", "infusion", "INFUSIONS", "reinfusion", "IV"]
GLUE = [" ", "\n", "-", "", "x", ".", "\u00e9", "_"]


def texts(words: list[str], glue: list[str]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(words) | st.sampled_from(glue), max_size=12).map("".join)


@examples(5)
@given(text=texts(WORDS, GLUE))
def test_ketamine_infusion_decides_as_the_old_expression(text: str) -> None:
    assert names_ketamine_infusion(text) == bool(OLD_INFUSION.search(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ketamine infusion 0.5 mg/kg", True),
        ("IV infusion of ketamine", True),
        ("ketamine infusions", True),
        ("infusions of ketamine", False),  # as before: "infusion" must be a word when first
        ("ketamine\ninfusion", False),  # as before: one line
        ("ketamine " * 150_000, False),
        ("infusion " * 150_000, False),
        ("ketamine " * 150_000 + "infusion", True),
    ],
)
def test_ketamine_infusion_is_linear(text: str, expected: bool) -> None:
    with within(LINEAR_SECONDS):
        assert names_ketamine_infusion(text) is expected


@examples(5)
@given(text=texts(["1", "12", "0.5", "mg", "MG", "tabs", "capsule", "milligrams"], [" ", ".", "x"]))
def test_dose_text_reads_as_the_old_expression(text: str) -> None:
    old, new = OLD_AMOUNT.search(text), _TEXT_AMOUNT.search(text)
    assert (old and old.groups()) == (new and new.groups())


@pytest.mark.parametrize(
    ("text", "groups"),
    [
        ("take 10 mg twice daily", ("10", "mg")),
        ("1.5.3mg", ("5.3", "mg")),
        ("1" * 200_000, None),
        ("1" * 200_000 + " mg", ("1" * 200_000, "mg")),
        ("1." * 100_000, None),
    ],
)
def test_dose_text_is_linear(text: str, groups: tuple[str, str] | None) -> None:
    with within(LINEAR_SECONDS):
        match = _TEXT_AMOUNT.search(text)
    assert (match.groups() if match else None) == groups


def test_long_texts_in_a_hook_call_are_answered_quickly(make_app: Any) -> None:
    """Through the service: a ServiceRequest draft and a dosage, each with 300 KB of text."""
    client = make_app(fhir_server_allowlist=[]).test_client()
    body = load_fixture("requests/order-sign", "order-sign-esketamine-candidate")
    body["context"]["draftOrders"]["entry"].append(
        {
            "resource": {
                "resourceType": "ServiceRequest",
                "id": "long-text",
                "status": "draft",
                "intent": "order",
                "subject": {"reference": f"Patient/{body['context']['patientId']}"},
                "code": {"text": "ketamine " * 35_000},
            }
        }
    )
    statements = body["prefetch"]["medicationStatements"].setdefault("entry", [])
    statements.append(
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "long-dosage",
                "status": "active",
                "subject": {"reference": f"Patient/{body['context']['patientId']}"},
                "medicationCodeableConcept": {"text": "sertraline"},
                "effectiveDateTime": "2026-01-02",
                "dosage": [{"text": "1" * 300_000}],
            }
        }
    )
    with within(4 * LINEAR_SECONDS):  # too slow: the app answers the interruption with a 500
        response = client.post("/cds-services/ketamine-order-sign", json=body)
    assert response.status_code == 200
    assert response.json["cards"]  # the esketamine draft is still checked


def test_scalar_text_reads_scalars_only() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    assert [scalar_text(v) for v in ("mg", 5, 2.5, True, None, {}, [], deep)] == [
        "mg",
        "5",
        "2.5",
        "True",
        "",
        "",
        "",
        "",
    ]


DEEP = "@deep@"


def with_deep_values(body: dict[str, Any], paths: list[JsonPath]) -> str:
    """``body`` as JSON text with an array nested to about 1,010 levels at each path."""
    for path in paths:
        set_at(body, path, DEEP)
    text = json.dumps(body)
    for path in paths:
        depth = 1010 - len(path)
        text = text.replace(f'"{DEEP}"', "[" * depth + '"x"' + "]" * depth, 1)
    return text


DRAFT: JsonPath = ("context", "draftOrders", "entry", 0, "resource")
WEIGHT = {
    "resourceType": "Observation",
    "id": "deep-weight",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "effectiveDateTime": "2026-02-20",
    "valueQuantity": {"value": 70, "code": "kg"},
}
SYSTOLIC_ONLY = {
    "resourceType": "Observation",
    "id": "deep-systolic",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "effectivePeriod": {"start": "2026-02-20T09:00:00Z"},
    "effectiveDateTime": "",
    "valueQuantity": {"value": 128, "unit": "mm[Hg]"},
}


@pytest.mark.parametrize(
    ("fixture", "paths"),
    [
        (  # a draft's dose unit, rate unit and mg/kg unit
            "order-sign-esketamine-candidate",
            [
                (*DRAFT, "dosageInstruction", 0, "doseAndRate", 0, "doseQuantity", "code"),
                (*DRAFT, "dosageInstruction", 0, "doseAndRate", 0, "rateQuantity"),
            ],
        ),
        ("order-sign-anaesthesia-ketamine-bolus-no-cards", [(*DRAFT, "resourceType")]),
        (  # a weight's unit, a blood pressure's time, a supply duration's unit
            "order-sign-esketamine-candidate",
            [  # -2 and -1: WEIGHT and SYSTOLIC_ONLY, which the test appends
                ("prefetch", "observations", "entry", -2, "resource", "valueQuantity", "code"),
                ("prefetch", "observations", "entry", -1, "resource", "effectiveDateTime"),
                (
                    "prefetch",
                    "medicationRequests",
                    "entry",
                    0,
                    "resource",
                    "dispenseRequest",
                    "expectedSupplyDuration",
                    "code",
                ),
            ],
        ),
    ],
)
def test_values_nested_a_thousand_deep_are_not_read(
    make_app: Any, fixture: str, paths: list[JsonPath]
) -> None:
    client = make_app(fhir_server_allowlist=[]).test_client()
    body = load_fixture("requests/order-sign", fixture)
    body["prefetch"]["observations"]["entry"] += [{"resource": WEIGHT}, {"resource": SYSTOLIC_ONLY}]
    medication = body["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    medication["dispenseRequest"] = {"expectedSupplyDuration": {"value": 30, "code": "d"}}
    rate = {"value": 1, "code": "mg/min"}
    body["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]["doseAndRate"][
        0
    ]["rateQuantity"] = rate
    expected = client.post("/cds-services/ketamine-order-sign", json=body)
    assert expected.status_code == 200
    response = client.post("/cds-services/ketamine-order-sign", data=with_deep_values(body, paths))
    assert response.status_code == 200, response.json
    assert len(response.json["cards"]) == len(expected.json["cards"])

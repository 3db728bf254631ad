"""The membership index answers as asking each value set's rules would, at one lookup per coding."""

from __future__ import annotations

from datetime import date

import pytest

from cds_service.record import valuesets
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import ICD10CM, Code, Terminology
from cds_service.record.valuesets import Rule, ValueSet, icd_key


def rule_holds(rule: Rule, code: Code) -> bool:
    """The rule read literally: the reference the index must agree with."""
    if code.system != rule.system:
        return False
    key = icd_key(code.code)
    return (
        code.code in rule.codes
        or any(key.startswith(p) for p in rule.prefixes)
        or any(
            key.isdigit() and len(key) == 5 and low <= int(key) <= high for low, high in rule.ranges
        )
        or any(p.match(key) for p in rule.patterns)
    )


def literally_in(valueset: ValueSet, code: Code) -> bool:
    return any(rule_holds(r, code) for r in valueset.include) and not any(
        rule_holds(r, code) for r in valueset.exclude
    )


def probe_codes(terminology: Terminology) -> set[Code]:
    """Every listed code, every prefix and a child of it, range ends, and near misses."""
    codes: set[Code] = set()
    for valueset in terminology.valuesets.values():
        for rule in valueset.include + valueset.exclude:
            for code in rule.codes:
                codes |= {Code(rule.system, code), Code(rule.system, code + "1")}
            for prefix in rule.prefixes:
                dotted = prefix[:3] + "." + prefix[3:] if len(prefix) > 3 else prefix
                codes |= {
                    Code(rule.system, prefix),
                    Code(rule.system, dotted + "9"),
                    Code(rule.system, prefix[:-1]),
                    Code(rule.system, prefix.lower() + "0"),
                }
            for low, high in rule.ranges:
                for number in (low - 1, low, high, high + 1):
                    codes.add(Code(rule.system, f"{number:05d}"))
    codes |= {Code(ICD10CM, f"X{i}") for i in range(70, 75)} | {Code(ICD10CM, "T14.91XA")}
    codes |= {Code(None, "F33.2"), Code("http://example.org/other", "F33.2")}
    return codes


def test_the_index_agrees_with_every_rule_of_every_value_set(terminology) -> None:
    probes = probe_codes(terminology)
    assert len(probes) > 1000
    members = 0
    for code in probes:
        for valueset in terminology.valuesets.values():
            expected = literally_in(valueset, code)
            assert valueset.contains(code) == expected, (valueset.id, code)
            members += expected
    assert members > 300
    pregnancy = terminology.valueset("pregnancy")
    assert any(literally_in(pregnancy, c) for c in probes)
    assert pregnancy.exclude, "the probe must cover a value set with exclusions"


@pytest.mark.parametrize("codings", [100, 1000])
def test_a_condition_with_many_codings_is_read_in_one_pass(
    terminology, monkeypatch: pytest.MonkeyPatch, codings: int
) -> None:
    """Before the index, every value set the rules ask about read every coding: the cost of a
    Condition grew with codings times value sets."""
    lookups = 0
    original = valuesets._RuleTable.sets_of

    def counted(self: valuesets._RuleTable, code: Code) -> set[str]:
        nonlocal lookups
        lookups += 1
        return original(self, code)

    monkeypatch.setattr(valuesets._RuleTable, "sets_of", counted)
    index = terminology.valueset("major-depressive-disorder").index
    monkeypatch.setattr(index, "_memo", {})  # earlier tests may have met these codes
    condition = {
        "resourceType": "Condition",
        "id": "many-codings",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {
            "coding": [{"system": ICD10CM, "code": f"Z99.{i}"} for i in range(codings)]
            + [{"system": ICD10CM, "code": "F33.2"}]
        },
    }
    record = PatientRecord.from_resources(
        [condition], today=date(2026, 3, 2), terminology=terminology
    )
    asked = list(terminology.valuesets.values())
    hits = {vs.id for vs in asked if record.conditions_in(vs)}
    assert "major-depressive-disorder" in hits
    assert codings < lookups <= 2 * (codings + 1)

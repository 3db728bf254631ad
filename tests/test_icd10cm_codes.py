"""Every ICD-10-CM code and prefix in the value sets exists, with its official description.

The check reads the CMS ICD-10-CM tabular of 1 April 2026 as the ``simple-icd-10-cm`` package
ships it. A display that differs on purpose says why in the entry's ``displayNote``.
"""

from __future__ import annotations

import json
import re
import warnings
from importlib.resources import files
from typing import Any

import pytest

with warnings.catch_warnings():  # the package reads its tables through a deprecated API
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10_cm as cm

ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"


def _valuesets() -> list[dict[str, Any]]:
    folder = files("cds_service.knowledge") / "valuesets"
    return [
        json.loads(entry.read_text(encoding="utf-8"))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    ]


def _icd_items() -> list[tuple[str, dict[str, Any]]]:
    return [
        (vs["id"], item)
        for vs in _valuesets()
        for part in ("include", "exclude")
        for item in vs.get(part, [])
        if item["system"] == ICD10CM
    ]


ENTRIES = [
    (vs_id, entry)
    for vs_id, item in _icd_items()
    for entry in [*item.get("prefixes", []), *item.get("codes", [])]
]


@pytest.mark.parametrize(("vs_id", "entry"), ENTRIES, ids=[f"{v}:{e['code']}" for v, e in ENTRIES])
def test_every_code_exists_with_its_official_display(vs_id: str, entry: dict[str, Any]) -> None:
    assert isinstance(entry, dict), f"{vs_id}: give {entry!r} as {{code, display}}"
    code = entry["code"]
    assert cm.is_valid_item(code), f"{vs_id}: {code} is not an ICD-10-CM code or category"
    if "displayNote" not in entry:
        assert entry["display"] == cm.get_description(code), f"{vs_id}: {code}"


def test_every_icd_entry_cites_the_tabular() -> None:
    for vs_id, item in _icd_items():
        assert item.get("verification") == "V1", vs_id
        assert "ICD-10-CM tabular, April 1 2026" in item["source"], vs_id


def test_the_self_harm_set_holds_every_intentional_self_harm_code() -> None:
    """Every leaf code whose description says "intentional self-harm" is in the set, and the
    pattern matches nothing else."""
    from cds_service.record.terminology import ICD10CM as SYSTEM
    from cds_service.record.terminology import Code, default_terminology

    harm = default_terminology().valueset("intentional-self-harm")
    [item] = [i for v, i in _icd_items() if v == "intentional-self-harm"]
    [pattern] = item["patterns"]
    regex = re.compile(pattern["pattern"])
    leaves = [code for code in cm.get_all_codes(with_dots=True) if cm.is_leaf(code)]
    described = {c for c in leaves if "intentional self-harm" in cm.get_description(c).lower()}
    assert len(described) > 1000
    assert {c for c in described if not harm.contains(Code(SYSTEM, c))} == set()
    matched = {c for c in leaves if regex.match(c.replace(".", ""))}
    assert matched <= described


def test_the_self_harm_set_names_x71_to_x83() -> None:
    [item] = [i for v, i in _icd_items() if v == "intentional-self-harm"]
    categories = {e["code"] for e in item["prefixes"]}
    assert {f"X{n}" for n in range(71, 84)} <= categories
    assert not cm.is_valid_item("X84")

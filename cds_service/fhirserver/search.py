"""FHIR R4 search over an in-memory store: the parameters the Sandbox and this service use.

Supported: ``_id``, ``patient``/``subject``, ``code``, ``category``, ``status``, ``date`` (with
the prefixes eq, ne, lt, le, gt, ge, sa, eb, on whole-day or datetime values), ``_count`` and
``_offset``. Comma means OR within one parameter; repeated parameters AND. Other parameters are
ignored, as FHIR's lenient handling allows, and reported back in ``self`` link-free notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

__all__ = ["SUPPORTED", "matches", "unsupported"]

SUPPORTED = {"_id", "patient", "subject", "code", "category", "status", "date", "_count", "_offset"}

CODE_FIELDS = ("code", "medicationCodeableConcept", "vaccineCode")
DATE_FIELDS = {
    "Observation": ("effectiveDateTime", "effectivePeriod", "issued"),
    "Condition": ("onsetDateTime", "onsetPeriod", "recordedDate"),
    "MedicationRequest": ("authoredOn",),
    "MedicationStatement": ("effectiveDateTime", "effectivePeriod", "dateAsserted"),
    "MedicationAdministration": ("effectiveDateTime", "effectivePeriod"),
    "Procedure": ("performedDateTime", "performedPeriod"),
    "AllergyIntolerance": ("recordedDate", "onsetDateTime"),
    "ServiceRequest": ("authoredOn",),
}
PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb")


def unsupported(params: Iterable[str]) -> list[str]:
    return sorted({p for p in params if p.split(":", 1)[0] not in SUPPORTED})


def matches(resource: dict[str, Any], params: list[tuple[str, str]]) -> bool:
    """True when the resource satisfies every supported parameter."""
    for name, value in params:
        name = name.split(":", 1)[0]
        options = [v for v in value.split(",") if v]
        if name == "_id" and resource.get("id") not in options:
            return False
        if name in ("patient", "subject") and not any(_refers_to(resource, o) for o in options):
            return False
        if name == "code" and not any(
            _has_token(_codings(resource, CODE_FIELDS), o) for o in options
        ):
            return False
        if name == "category" and not any(
            _has_token(_list_codings(resource.get("category")), o) for o in options
        ):
            return False
        if name == "status" and not any(o in _statuses(resource) for o in options):
            return False
        if name == "date" and not _date_matches(resource, value):
            return False
    return True


def _refers_to(resource: dict[str, Any], wanted: str) -> bool:
    target = wanted if "/" in wanted else f"Patient/{wanted}"
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource.get('id')}" == target
    for field in ("subject", "patient"):
        reference = resource.get(field)
        if isinstance(reference, dict) and reference.get("reference") == target:
            return True
    return False


def _list_codings(value: Any) -> list[dict[str, Any]]:
    concepts = value if isinstance(value, list) else [value]
    return [
        c
        for concept in concepts
        if isinstance(concept, dict)
        for c in concept.get("coding", [])
        if isinstance(c, dict)
    ]


def _codings(resource: dict[str, Any], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    return [c for f in fields for c in _list_codings(resource.get(f))]


def _has_token(codings: list[dict[str, Any]], token: str) -> bool:
    system, bar, code = token.rpartition("|")
    for coding in codings:
        if coding.get("code") != code:
            continue
        if not bar or coding.get("system") == system or (system == "" and not coding.get("system")):
            return True
    return False


def _statuses(resource: dict[str, Any]) -> set[str]:
    found = {resource["status"]} if isinstance(resource.get("status"), str) else set()
    for field in ("clinicalStatus", "verificationStatus"):
        found |= {c.get("code") for c in _list_codings(resource.get(field))}
    return found


def _instants(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(start, end) strings for each date field present, a single date giving start == end."""
    out = []
    for field in DATE_FIELDS.get(str(resource.get("resourceType")), ()):
        value = resource.get(field)
        if isinstance(value, str):
            out.append((value, value))
        elif isinstance(value, dict) and (value.get("start") or value.get("end")):
            out.append((value.get("start") or "0001", value.get("end") or "9999"))
    return out[:1]


def _day(value: str) -> date | None:
    try:
        return datetime.fromisoformat(value[:10]).date()
    except ValueError:
        return None


def _date_matches(resource: dict[str, Any], value: str) -> bool:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    wanted = _day(value[2:] if value[:2] in PREFIXES else value)
    if wanted is None:
        return False
    for start_text, end_text in _instants(resource):
        start, end = _day(start_text) or date.min, _day(end_text) or date.max
        result = {
            "eq": start <= wanted <= end,
            "ne": not (start <= wanted <= end),
            "lt": start < wanted,
            "le": start <= wanted,
            "gt": end > wanted,
            "ge": end >= wanted,
            "sa": start > wanted,
            "eb": end < wanted,
        }[prefix]
        if result:
            return True
    return False

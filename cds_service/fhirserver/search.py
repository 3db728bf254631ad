"""FHIR R4 search over an in-memory store: the parameters the Sandbox and this service use.

Supported: ``_id``, ``patient``/``subject``, ``code``, ``category``, ``status``, ``date`` (the
prefixes eq, ne, lt, le, gt, ge, sa, eb, compared as ranges at the precision given: a year, a
month, a day or an instant, as FHIR R4 §3.1.1.4.2 defines), ``_count`` and ``_offset``. Comma
means OR within one parameter; repeated parameters AND. Unknown parameters are ignored, as
FHIR's lenient handling allows, and reported in an outcome entry; a modifier (``:not``,
``:text``...) or an unparseable date is refused (``SearchError``), since ignoring it would
invert or widen the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["SUPPORTED", "SearchError", "check", "matches", "unsupported"]

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
    "Encounter": ("period",),
}
PREFIXES = ("eq", "ne", "lt", "le", "gt", "ge", "sa", "eb")


class SearchError(ValueError):
    """A search this server cannot answer correctly; the message says which parameter."""


def unsupported(params: Iterable[str]) -> list[str]:
    return sorted({p for p in params if p not in SUPPORTED})


def check(params: list[tuple[str, str]]) -> None:
    """Refuse modifiers and unparseable dates rather than answer a different question."""
    for name, value in params:
        base, colon, modifier = name.partition(":")
        if colon and base in SUPPORTED:
            raise SearchError(f"the modifier :{modifier} on {base} is not supported")
        if name == "date" and _search_range(value) is None:
            raise SearchError(f"date={value} is not a FHIR date search value")


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
    parts = wanted.rstrip("/").split("/")
    target = "/".join(parts[-2:]) if len(parts) >= 2 else f"Patient/{wanted}"
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
        if bar and not code:  # "system|": any code in that system
            if coding.get("system") == system:
                return True
            continue
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


_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
Range = tuple[datetime, datetime]  # [start, end)


def _range(text: str) -> Range | None:
    """The instants a FHIR date, dateTime or instant covers, at its precision."""
    match = _PARTIAL.match(text)
    try:
        if match:
            year, month, day = match.group(1), match.group(2), match.group(3)
            start = datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
            if day:
                return start, start + timedelta(days=1)
            if month:
                nxt = datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)
                return start, nxt
            return start, datetime(start.year + 1, 1, 1, tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment, moment + timedelta(microseconds=1)


def _search_range(value: str) -> tuple[str, Range] | None:
    prefix = value[:2] if value[:2] in PREFIXES else "eq"
    span = _range(value[2:] if value[:2] in PREFIXES else value)
    return (prefix, span) if span else None


def _target_ranges(resource: dict[str, Any]) -> list[Range]:
    out = []
    for field in DATE_FIELDS.get(str(resource.get("resourceType")), ()):
        value = resource.get(field)
        if isinstance(value, str):
            span = _range(value)
        elif isinstance(value, dict) and (value.get("start") or value.get("end")):
            low = _range(value["start"]) if value.get("start") else None
            high = _range(value["end"]) if value.get("end") else None
            span = (
                low[0] if low else datetime.min.replace(tzinfo=UTC),
                high[1] if high else datetime.max.replace(tzinfo=UTC),
            )
        else:
            continue
        if span:
            out.append(span)
    return out[:1]


def _date_matches(resource: dict[str, Any], value: str) -> bool:
    parsed = _search_range(value)
    if parsed is None:
        return False
    prefix, (low, high) = parsed
    for start, end in _target_ranges(resource):
        contained = low <= start and end <= high
        result = {
            "eq": contained,
            "ne": not contained,
            "gt": end > high,
            "lt": start < low,
            "ge": end > high or contained,
            "le": start < low or contained,
            "sa": start >= high,
            "eb": end <= low,
        }[prefix]
        if result:
            return True
    return False

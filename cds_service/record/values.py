"""Small readers for FHIR R4 data types, tolerant of any JSON shape."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import Code, normalise_system

__all__ = [
    "codes_of",
    "number",
    "parse_date",
    "parse_date_and_instant",
    "parse_instant",
    "reference",
    "reference_tail",
    "scalar_text",
    "text_of",
]

# ASCII digits only, as FHIR's date regex and fromisoformat take them (\d would read "٢٠٢٤").
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)
MIN_YEAR, MAX_YEAR = 1850, 2200
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # the common case, read without _DATE


def parse_date(value: Any) -> date | None:
    """The calendar date of a FHIR date or dateTime at any precision (YYYY -> 1 January).

    Usage: ``parse_date("2025-02-03T09:40:00-05:00")  # date(2025, 2, 3)``
    """
    if not isinstance(value, str):
        return None
    if _DAY.match(value):
        try:
            found = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return found if MIN_YEAR <= found.year <= MAX_YEAR else None
    match = _DATE.match(value.strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
    if not MIN_YEAR <= int(year) <= MAX_YEAR:  # year 1 or 9999 is a placeholder, not a date
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def codes_of(concept: Any) -> list[Code]:
    """The codings of a CodeableConcept (or of a single Coding), normalised."""
    return list(_codings(concept))


def _codings(concept: Any) -> Iterator[Code]:
    """Here and in the other per-coding readers, ``isinstance`` takes a tuple of types: it
    costs half what a ``str | int`` union does, and these run for every coding of a chart."""
    concept = as_dict(concept)
    for coding in as_list(concept.get("coding")) if "coding" in concept else [concept]:
        coding = as_dict(coding)
        code = coding.get("code")
        if isinstance(code, (str, int)) and str(code).strip():
            display = coding.get("display")
            yield Code(
                normalise_system(coding.get("system")),
                str(code).strip(),
                display if isinstance(display, str) else None,
            )


def text_of(concept: Any, codes: Iterable[Code] | None = None) -> str | None:
    """A CodeableConcept's text, else its first coding display. ``codes``: its codings, when
    the caller has read them already (a client decides how many there are)."""
    concept = as_dict(concept)
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"]).strip()
    codings = _codings(concept) if codes is None else codes
    return next((code.display for code in codings if code.display), None)


def scalar_text(value: Any) -> str:
    """A JSON string, number or boolean as text; "" for null, an object or an array.

    Where a unit or a date is read with ``str()``, a nested value is not one, and ``str()`` of
    one nested hundreds deep raises RecursionError (JSON may nest 1,024 deep).
    Usage: ``scalar_text(q.get("code") or q.get("unit"))  # "mg", or "" for {"a": ...}``
    """
    return str(value) if isinstance(value, (str, int, float)) else ""


def number(value: Any) -> float | None:
    """A finite JSON number (or numeric string) as float; NaN, infinities and junk give None."""
    if isinstance(value, bool):
        return None
    result: float | None = None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    return result if result is not None and math.isfinite(result) else None


def parse_instant(value: Any) -> datetime | None:
    """A FHIR dateTime as an aware UTC datetime (a date alone is midnight UTC), for ordering."""
    if not isinstance(value, str):
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text) if "T" in text else None
    except ValueError:
        parsed = None
    if parsed is None:
        day = parse_date(value)
        return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_date_and_instant(value: Any) -> tuple[date | None, datetime | None]:
    """``(parse_date(value), parse_instant(value))``, from one parse when the value is a
    dateTime written ``YYYY-MM-DDThh:mm...`` (the date is the one written, not UTC's)."""
    if isinstance(value, str) and "T" in value and _DAY.match(value):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and MIN_YEAR <= parsed.year <= MAX_YEAR:
            instant = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed
            return parsed.date(), instant.astimezone(UTC)
    return parse_date(value), parse_instant(value)


def reference_tail(ref: Any) -> str | None:
    """``Type/id`` of a relative or absolute reference (``_history`` dropped), or None.

    Usage: ``reference_tail("https://ehr/r4/Condition/c1/_history/2")  # "Condition/c1"``
    """
    if not isinstance(ref, str) or "/" not in ref:
        return None
    return "/".join(ref.split("/_history")[0].rstrip("/").split("/")[-2:])


def reference(resource: dict[str, Any]) -> str:
    rid = resource.get("id")
    return (
        f"{resource.get('resourceType')}/{rid}"
        if isinstance(rid, str)
        else str(resource.get("resourceType"))
    )

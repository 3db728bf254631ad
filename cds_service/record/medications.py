"""Medication exposures from MedicationRequest, MedicationStatement and MedicationAdministration.

An exposure knows its ingredients (via terminology), its daily dose in mg where the record
allows it, and its period. Where dose or dates cannot be known they are None and say why;
they are never guessed (design.md §7 "Data that is not there").

Period of a request: ``timing.repeat.boundsPeriod``/``boundsDuration``; else ``authoredOn``
plus ``dispenseRequest.expectedSupplyDuration x (1 + numberOfRepeatsAllowed)`` (design.md §7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import Code, Recognition, Terminology
from cds_service.record.values import codes_of, number, parse_date, reference, text_of

__all__ = ["MedicationExposure", "exposure_from"]

SKIPPED_STATUSES = {"entered-in-error", "cancelled", "draft", "not-taken", "intended", "not-done"}
ONGOING_STATUSES = {"active", "in-progress", "on-hold"}

_DAYS_PER_UNIT = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1,
    "wk": 7,
    "mo": 30,
    "a": 365,
    "day": 1,
    "days": 1,
    "week": 7,
    "weeks": 7,
    "month": 30,
    "months": 30,
    "hour": 1 / 24,
    "hours": 1 / 24,
}
_TIMING_CODES = {
    "QD": 1,
    "DAILY": 1,
    "BID": 2,
    "TID": 3,
    "QID": 4,
    "QOD": 0.5,
    "AM": 1,
    "PM": 1,
    "QHS": 1,
    "HS": 1,
    "Q12H": 2,
    "Q8H": 3,
    "Q6H": 4,
    "Q24H": 1,
    "WK": 1 / 7,
}
_MASS_UNITS = {
    "mg": 1.0,
    "milligram": 1.0,
    "milligrams": 1.0,
    "g": 1000.0,
    "mcg": 0.001,
    "ug": 0.001,
    "microgram": 0.001,
}
_COUNT_UNITS = {
    "tablet",
    "tablets",
    "tab",
    "tabs",
    "capsule",
    "capsules",
    "cap",
    "caps",
    "{tbl}",
    "{tablet}",
    "{capsule}",
    "{pill}",
    "pill",
    "pills",
    "1",
    "each",
    "{each}",
    "patch",
    "spray",
    "device",
    "{device}",
    "kit",
    "{kit}",
}
_VOLUME_UNITS = {"ml": 1.0, "milliliter": 1.0, "l": 1000.0}
_TEXT_FREQUENCIES = [
    (re.compile(r"\b(four times|4 times)\b|\bqid\b", re.I), 4.0),
    (re.compile(r"\b(three times|3 times)\b|\btid\b", re.I), 3.0),
    (re.compile(r"\b(twice|two times|2 times)\b|\bbid\b", re.I), 2.0),
    (re.compile(r"\bevery other day\b|\bqod\b", re.I), 0.5),
    (
        re.compile(
            r"\b(once|1 time)\b|\bdaily\b|\bevery (day|morning|evening|night)\b|"
            r"\bnightly\b|\bat bedtime\b|\bqhs\b|\bqd\b",
            re.I,
        ),
        1.0,
    ),
]
_TEXT_AMOUNT = re.compile(
    r"(\d+(?:\.\d+)?)\s*(mg|milligrams?|tablets?|tabs?|capsules?|caps?)\b", re.I
)


@dataclass(frozen=True)
class MedicationExposure:
    """One order, statement or administration of a medication, as far as the record shows."""

    reference: str
    resource_type: str
    status: str | None
    name: str
    codes: tuple[Code, ...]
    recognition: Recognition
    daily_dose_mg: float | None
    dose_note: str | None
    dose_mg_per_administration: float | None
    start: date | None
    end: date | None
    ongoing: bool
    duration_known: bool
    status_reason: str | None
    reason_codes: tuple[Code, ...]
    reason_references: tuple[str, ...]
    route: tuple[Code, ...]
    route_text: str | None
    intent: str | None

    @property
    def ingredients(self) -> tuple[str, ...]:
        return self.recognition.ingredients

    def days(self, today: date) -> int | None:
        """Days covered, to today if ongoing; None when the period cannot be known."""
        if self.start is None or not self.duration_known:
            return None
        end = today if self.ongoing else self.end
        return None if end is None else max(0, (min(end, today) - self.start).days)


def exposure_from(
    resource: dict[str, Any],
    terminology: Terminology,
    medications: dict[str, dict[str, Any]],
    today: date,
) -> MedicationExposure | None:
    """Build an exposure from one medication resource; None when it should not count."""
    rtype = resource.get("resourceType")
    status = resource.get("status") if isinstance(resource.get("status"), str) else None
    if status in SKIPPED_STATUSES:
        return None
    codes, texts = _medication(resource, medications)
    recognition = terminology.recognise(codes, texts)
    name = (
        next((t for t in texts if t), None)
        or next((c.display for c in codes if c.display), None)
        or "unnamed medication"
    )

    if rtype == "MedicationAdministration":
        dosage = as_dict(resource.get("dosage"))
        dose = _mass(as_dict(dosage.get("dose")), recognition)
        when = parse_date(resource.get("effectiveDateTime")) or parse_date(
            as_dict(resource.get("effectivePeriod")).get("start")
        )
        return MedicationExposure(
            reference=reference(resource),
            resource_type="MedicationAdministration",
            status=status,
            name=name,
            codes=tuple(codes),
            recognition=recognition,
            daily_dose_mg=None,
            dose_note=None,
            dose_mg_per_administration=dose,
            start=when,
            end=when,
            ongoing=False,
            duration_known=when is not None,
            status_reason=_status_reason(resource),
            reason_codes=tuple(
                c for cc in as_list(resource.get("reasonCode")) for c in codes_of(cc)
            ),
            reason_references=_reason_refs(resource),
            route=tuple(codes_of(dosage.get("route"))),
            route_text=text_of(dosage.get("route")),
            intent=None,
        )

    dosages = [
        as_dict(d)
        for d in as_list(
            resource.get("dosageInstruction")
            if rtype == "MedicationRequest"
            else resource.get("dosage")
        )
    ]
    daily, note = _daily_dose(dosages, recognition)
    start, end, duration_known = _period(resource, dosages)
    ongoing = status in ONGOING_STATUSES and (end is None or end >= today)
    if ongoing:
        duration_known = start is not None
    first = dosages[0] if dosages else {}
    return MedicationExposure(
        reference=reference(resource),
        resource_type=str(rtype),
        status=status,
        name=name,
        codes=tuple(codes),
        recognition=recognition,
        daily_dose_mg=daily,
        dose_note=note,
        dose_mg_per_administration=_single_dose(dosages, recognition),
        start=start,
        end=None if ongoing else end,
        ongoing=ongoing,
        duration_known=duration_known and start is not None,
        status_reason=_status_reason(resource),
        reason_codes=tuple(c for cc in as_list(resource.get("reasonCode")) for c in codes_of(cc)),
        reason_references=_reason_refs(resource),
        route=tuple(codes_of(first.get("route"))),
        route_text=text_of(first.get("route")),
        intent=resource.get("intent") if isinstance(resource.get("intent"), str) else None,
    )


def _medication(
    resource: dict[str, Any], medications: dict[str, dict[str, Any]]
) -> tuple[list[Code], list[str | None]]:
    """Codings and texts of the medication a resource names (inline, contained or bundled)."""
    concept = resource.get("medicationCodeableConcept")
    if concept is not None:
        return codes_of(concept), [text_of(concept)]
    ref = as_dict(resource.get("medicationReference")).get("reference")
    medication: dict[str, Any] = {}
    if isinstance(ref, str):
        if ref.startswith("#"):
            medication = next(
                (
                    as_dict(c)
                    for c in as_list(resource.get("contained"))
                    if as_dict(c).get("id") == ref[1:]
                ),
                {},
            )
        else:  # "Medication/123", or an absolute URL ending in it
            tail = "/".join(ref.split("/_history")[0].rstrip("/").split("/")[-2:])
            medication = medications.get(tail, {})
    display = as_dict(resource.get("medicationReference")).get("display")
    codes = codes_of(medication.get("code"))
    texts: list[str | None] = [
        text_of(medication.get("code")),
        display if isinstance(display, str) else None,
    ]
    for part in as_list(medication.get("ingredient")):
        part = as_dict(part)
        codes += codes_of(part.get("itemCodeableConcept"))
        texts.append(text_of(part.get("itemCodeableConcept")))
    return codes, texts


def _per_day(dosage: dict[str, Any]) -> float | None:
    timing = as_dict(dosage.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    frequency = number(repeat.get("frequency"))
    period = number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    if frequency and period and isinstance(unit, str) and unit in _DAYS_PER_UNIT:
        return frequency / (period * _DAYS_PER_UNIT[unit])
    for code in codes_of(timing.get("code")):
        if code.code.upper() in _TIMING_CODES:
            return float(_TIMING_CODES[code.code.upper()])
    text = dosage.get("text")
    if isinstance(text, str):
        for pattern, per_day in _TEXT_FREQUENCIES:
            if pattern.search(text):
                return per_day
    return None


def _quantity(dosage: dict[str, Any]) -> dict[str, Any]:
    for dose_and_rate in as_list(dosage.get("doseAndRate")):
        dose_and_rate = as_dict(dose_and_rate)
        if dose_and_rate.get("doseQuantity"):
            return as_dict(dose_and_rate["doseQuantity"])
        if dose_and_rate.get("doseRange"):
            return as_dict(as_dict(dose_and_rate["doseRange"]).get("low"))
    if isinstance(dosage.get("doseQuantity"), dict):  # STU3 shape, still seen in the wild
        return as_dict(dosage["doseQuantity"])
    text = dosage.get("text")
    if isinstance(text, str):
        match = _TEXT_AMOUNT.search(text)
        if match:
            return {"value": float(match.group(1)), "unit": match.group(2), "_from_text": True}
    return {}


def _mass(quantity: dict[str, Any], recognition: Recognition) -> float | None:
    """A dose quantity in mg: mass units directly, counts and volumes through the strength."""
    value = number(quantity.get("value"))
    if value is None:
        return None
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip().lower()
    if unit in _MASS_UNITS:
        return value * _MASS_UNITS[unit]
    strength = (
        next(iter(recognition.strengths.values()), None)
        if len(recognition.strengths) == 1
        else None
    )
    if strength is None:
        return None
    amount, strength_unit = strength
    if (unit in _COUNT_UNITS or unit.rstrip("s") in _COUNT_UNITS) and strength_unit == "MG":
        return value * amount
    if unit in _VOLUME_UNITS and strength_unit == "MG/ML":
        return value * _VOLUME_UNITS[unit] * amount
    return None


def _daily_dose(
    dosages: list[dict[str, Any]], recognition: Recognition
) -> tuple[float | None, str | None]:
    """Daily mg: doses of one sequence are summed; the highest sequence is taken."""
    by_sequence: dict[Any, float] = {}
    from_text = False
    for dosage in dosages:
        quantity = _quantity(dosage)
        mg = _mass(quantity, recognition)
        per_day = _per_day(dosage)
        if mg is None or per_day is None:
            continue
        from_text = from_text or bool(quantity.get("_from_text"))
        sequence = dosage.get("sequence")
        by_sequence[sequence] = by_sequence.get(sequence, 0.0) + mg * per_day
    if not by_sequence:
        return None, "dose or frequency not recorded" if dosages else "no dosage recorded"
    return round(max(by_sequence.values()), 3), "read from the dosage text" if from_text else None


def _single_dose(dosages: list[dict[str, Any]], recognition: Recognition) -> float | None:
    for dosage in dosages:
        mg = _mass(_quantity(dosage), recognition)
        if mg is not None:
            return mg
    return None


def _duration_days(quantity: Any) -> float | None:
    quantity = as_dict(quantity)
    value = number(quantity.get("value"))
    unit = str(quantity.get("code") or quantity.get("unit") or "").strip().lower()
    if value is None or unit not in _DAYS_PER_UNIT:
        return None
    return value * _DAYS_PER_UNIT[unit]


def _period(
    resource: dict[str, Any], dosages: list[dict[str, Any]]
) -> tuple[date | None, date | None, bool]:
    """(start, end, whether the end is known)."""
    if resource.get("resourceType") == "MedicationStatement":
        period = as_dict(resource.get("effectivePeriod"))
        start = parse_date(period.get("start")) or parse_date(resource.get("effectiveDateTime"))
        end = parse_date(period.get("end"))
        return start, end, end is not None
    for dosage in dosages:
        repeat = as_dict(as_dict(dosage.get("timing")).get("repeat"))
        bounds = as_dict(repeat.get("boundsPeriod"))
        if bounds:
            start, end = parse_date(bounds.get("start")), parse_date(bounds.get("end"))
            if start:
                return start, end, end is not None
        days = _duration_days(repeat.get("boundsDuration"))
        authored = parse_date(resource.get("authoredOn"))
        if days is not None and authored:
            return authored, authored + timedelta(days=round(days)), True
    authored = parse_date(resource.get("authoredOn"))
    dispense = as_dict(resource.get("dispenseRequest"))
    supply = _duration_days(dispense.get("expectedSupplyDuration"))
    if authored and supply is not None:
        repeats = number(dispense.get("numberOfRepeatsAllowed")) or 0
        return authored, authored + timedelta(days=round(supply * (1 + repeats))), True
    return authored, None, False


def _status_reason(resource: dict[str, Any]) -> str | None:
    reasons = resource.get("statusReason")
    concepts = as_list(reasons) if isinstance(reasons, list) else [reasons]
    texts = [text_of(c) for c in concepts if c]
    return "; ".join(t for t in texts if t) or None


def _reason_refs(resource: dict[str, Any]) -> tuple[str, ...]:
    refs = [as_dict(r).get("reference") for r in as_list(resource.get("reasonReference"))]
    return tuple(r for r in refs if isinstance(r, str))

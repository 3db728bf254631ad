"""Dose arithmetic: a Dosage's amount per administration and administrations per day, in mg.

Amounts in mass units convert directly (single-ingredient products only); counts (tablets,
capsules, patches, devices) and volumes convert through the product's strength per ingredient,
so a combination product gives each ingredient its own dose. A patch strength in MG/HR gives
mg per 24 h. Frequencies come from ``timing.repeat``, a timing code (BID, ...) or, failing
both, the dosage text; a dose read from text is flagged.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import Recognition
from cds_service.record.values import codes_of, number, scalar_text

__all__ = ["DAYS_PER_UNIT", "daily_doses", "dose_per_administration", "duration_days"]

DAYS_PER_UNIT = {
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
MAX_DURATION_DAYS = 36500
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
    "tab",
    "capsule",
    "cap",
    "{tbl}",
    "{tablet}",
    "{capsule}",
    "{pill}",
    "pill",
    "1",
    "each",
    "{each}",
    "patch",
    "{patch}",
    "spray",
    "device",
    "{device}",
    "kit",
    "{kit}",
    "system",
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
# A number is matched from its first digit only: without the look-behind, a long run of digits
# is retried from each of its digits, which is quadratic (20,000 digits took 24 s).
_TEXT_AMOUNT = re.compile(
    r"(?<!\d)(\d+(?:\.\d+)?)\s*(mg|milligrams?|tablets?|tabs?|capsules?|caps?)\b", re.I
)


def duration_days(quantity: Any) -> float | None:
    """A Duration in days, or None (unknown unit, not finite, or beyond a century)."""
    quantity = as_dict(quantity)
    value = number(quantity.get("value"))
    unit = scalar_text(quantity.get("code") or quantity.get("unit")).strip().lower()
    if value is None or unit not in DAYS_PER_UNIT:
        return None
    days = value * DAYS_PER_UNIT[unit]
    return days if 0 <= days <= MAX_DURATION_DAYS else None


def _per_day(dosage: dict[str, Any]) -> float | None:
    timing = as_dict(dosage.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    frequency = number(repeat.get("frequency"))
    period = number(repeat.get("period"))
    unit = repeat.get("periodUnit")
    if frequency and period and isinstance(unit, str) and unit in DAYS_PER_UNIT:
        return frequency / (period * DAYS_PER_UNIT[unit])
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
    for key in ("doseQuantity", "dose"):  # STU3 request shape; MedicationAdministration.dosage
        if isinstance(dosage.get(key), dict):
            return as_dict(dosage[key])
    text = dosage.get("text")
    if isinstance(text, str):
        match = _TEXT_AMOUNT.search(text)
        if match:
            return {"value": float(match.group(1)), "unit": match.group(2), "_from_text": True}
    return {}


def _unit(quantity: dict[str, Any]) -> str:
    unit = scalar_text(quantity.get("code") or quantity.get("unit")).strip().lower()
    return unit[:-1] if unit.endswith("s") and unit[:-1] in _COUNT_UNITS else unit


def _mg(quantity: dict[str, Any], recognition: Recognition, ingredient: str) -> float | None:
    """One administration's amount of ``ingredient`` in mg."""
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return None
    unit = _unit(quantity)
    if unit in _MASS_UNITS:
        return value * _MASS_UNITS[unit] if len(recognition.ingredients) == 1 else None
    strength = recognition.strengths.get(ingredient)
    if strength is None:
        return None
    amount, strength_unit = strength
    if unit in _COUNT_UNITS:
        if strength_unit == "MG":
            return value * amount
        if strength_unit == "MG/HR":
            return value * amount * 24
    if unit in _VOLUME_UNITS and strength_unit == "MG/ML":
        return value * _VOLUME_UNITS[unit] * amount
    return None


def dose_per_administration(
    dosages: list[dict[str, Any]], recognition: Recognition, ingredient: str
) -> float | None:
    for dosage in dosages:
        mg = _mg(_quantity(dosage), recognition, ingredient)
        if mg is not None:
            return mg
    return None


def daily_doses(
    dosages: list[dict[str, Any]], recognition: Recognition
) -> tuple[dict[str, float], bool]:
    """Daily mg per ingredient over these dosages (summed), and whether text was read."""
    out: dict[str, float] = {}
    from_text = False
    for ingredient in recognition.ingredients:
        total = 0.0
        counted = False
        for dosage in dosages:
            quantity = _quantity(dosage)
            mg = _mg(quantity, recognition, ingredient)
            per_day = _per_day(dosage)
            if mg is None or per_day is None:
                continue
            from_text = from_text or bool(quantity.get("_from_text"))
            total += mg * per_day
            counted = True
        if counted and math.isfinite(total):
            out[ingredient] = round(total, 3)
    return out, from_text

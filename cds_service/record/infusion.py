"""How an infusion or injection was given, read from a Dosage as EHRs record it.

The length of an infusion comes, in this order, from:

- ``timing.repeat.duration`` (an order);
- the dose over its rate: ``rateRatio`` (35 mg per 40 min) or ``rateQuantity``, in mg per
  time against the dose in mg, in mL per time against the volume given (a dose in mL, or "in
  100 mL" in the text), or in mg/kg per time against a dose in mg/kg;
- the text (``dosage.text`` or ``dosageInstruction.text``): "infused over 40 minutes",
  "over 40 min", "40-minute infusion", "over 1 hour".

An administration's ``effectivePeriod`` is read by the caller, before any of these. A dose
stated per kilogram, an intramuscular route, a bolus ("push", "bolus") and a text that names
another purpose (pain, analgesia, procedural sedation, a procedure, anaesthesia) are read here
too, because they tell an anaesthetic, sedative or analgesic dose from an antidepressant
infusion.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import Code
from cds_service.record.values import codes_of, number, scalar_text, text_of

__all__ = ["Delivery", "delivery_of", "text_minutes"]

INTRAMUSCULAR_ROUTE = "78421000"  # SNOMED CT: intramuscular route
_MINUTES_PER = {
    "s": 1 / 60,
    "sec": 1 / 60,
    "min": 1.0,
    "mins": 1.0,
    "minute": 1.0,
    "minutes": 1.0,
    "h": 60.0,
    "hr": 60.0,
    "hrs": 60.0,
    "hour": 60.0,
    "hours": 60.0,
    "d": 1440.0,
}
TEXT_LIMIT = 2000
_MASS_MG = {"mg": 1.0, "g": 1000.0, "mcg": 0.001, "ug": 0.001}
_VOLUME_ML = {"ml": 1.0, "l": 1000.0}
# A number is matched from its first digit only (see dosage._TEXT_AMOUNT): linear on any text.
_NUMBER = r"(?<![\d.])(\d{1,4}(?:\.\d{1,2})?)"
_UNIT = r"(minutes?|mins?|hours?|hrs?|h)\b"
_OVER = re.compile(
    r"\bover\s{1,3}(?:about\s|approximately\s|~)?\s{0,2}" + _NUMBER + r"\s{0,2}" + _UNIT, re.I
)
_LONG = re.compile(_NUMBER + r"[\s-]{0,3}" + _UNIT + r"[\s-]{0,3}(?:iv\s{1,3})?infusion\b", re.I)
_BOLUS = re.compile(r"\b(bolus|push)\b", re.I)
# A bag volume: "in 100 mL", "in sodium chloride 0.9% 100 mL" (bounded, so linear on any text).
_BAG = re.compile(r"\bin\b[^;,\n]{0,40}?(?<![\d.])(\d{1,4}(?:\.\d{1,2})?)\s{0,2}ml\b", re.I)
# A stated purpose other than depression: "for pain", "for acute pain", "for the procedure",
# "procedural sedation". Not "monitor for sedation", which an antidepressant infusion asks too.
_PURPOSE = re.compile(
    r"\bfor\s{1,3}(?:[a-z-]{1,20}\s{1,3})?"
    r"(?:pain|analgesia|an(?:a)?esthesia|procedure|surgery|intubation)\b"
    r"|\bprocedural\s{1,3}sedation\b",
    re.I,
)
_IM_TEXT = re.compile(r"\bintramuscular|\bIM\b", re.I)


class Delivery(NamedTuple):
    """What a dosage says about how a dose was given; None where it does not say."""

    minutes: float | None = None
    minutes_from: str | None = None  # duration | rate | text
    mg_per_kg: float | None = None
    bolus: bool = False
    intramuscular: bool = False
    other_purpose: bool = False  # the text names pain, analgesia, sedation or anaesthesia


def text_minutes(text: str | None) -> float | None:
    """The infusion length a free-text dosage states, in minutes.

    Usage: ``text_minutes("35 mg IV infused over 40 minutes")  # 40.0``
    """
    if not text:
        return None
    match = _OVER.search(text) or _LONG.search(text)
    if not match:
        return None
    unit = match.group(2).lower()
    per = _MINUTES_PER.get(unit, _MINUTES_PER.get(unit.rstrip("s"), 0.0))
    minutes = float(match.group(1)) * per
    return minutes if minutes > 0 else None


def _unit(quantity: dict[str, Any]) -> str:
    unit = scalar_text(quantity.get("code") or quantity.get("unit"))
    return unit.strip().lower().replace(" ", "")


def _rates(dosage: dict[str, Any]) -> list[dict[str, Any]]:
    """The rate elements of a request's doseAndRate entries or of an administration's dosage."""
    holders = [as_dict(d) for d in as_list(dosage.get("doseAndRate"))] + [dosage]
    return [h for h in holders if h.get("rateRatio") or h.get("rateQuantity")]


def _kind(unit: str) -> tuple[str, float] | None:
    """What an amount unit measures (mg, ml or mg/kg) and its factor to that unit."""
    if unit in _MASS_MG:
        return "mg", _MASS_MG[unit]
    if unit in _VOLUME_ML:
        return "ml", _VOLUME_ML[unit]
    if unit in ("mg/kg", "mg/{kg}"):
        return "mg/kg", 1.0
    return None


def _rate(holder: dict[str, Any]) -> tuple[str, float] | None:
    """A rate as (mg, ml or mg/kg) per minute, from a rateRatio or a rateQuantity."""
    ratio = as_dict(holder.get("rateRatio"))
    if ratio:
        top, bottom = as_dict(ratio.get("numerator")), as_dict(ratio.get("denominator"))
        amount, per = number(top.get("value")), number(bottom.get("value"))
        if per is None and not bottom.get("value"):
            per = 1.0  # "35 mg per min" may leave the denominator's value out
        amount_unit, time_unit = _unit(top), _unit(bottom)
    else:
        quantity = as_dict(holder.get("rateQuantity"))
        amount, per = number(quantity.get("value")), 1.0
        amount_unit, _, time_unit = _unit(quantity).rpartition("/")
    kind = _kind(amount_unit)
    per_minutes = _MINUTES_PER.get(time_unit)
    if kind is None or per_minutes is None or not amount or amount <= 0 or not per or per <= 0:
        return None
    return kind[0], amount * kind[1] / (per * per_minutes)


def _dose_ml(dosage: dict[str, Any]) -> float | None:
    """The volume given: the dose in mL, else a bag volume in the text ("in 100 mL")."""
    quantities = [
        as_dict(as_dict(d).get("doseQuantity")) for d in as_list(dosage.get("doseAndRate"))
    ]
    quantities += [as_dict(dosage.get(key)) for key in ("dose", "doseQuantity")]
    for quantity in quantities:
        unit = _unit(quantity)
        value = number(quantity.get("value"))
        if unit in _VOLUME_ML and value and value > 0:
            return value * _VOLUME_ML[unit]
    text = _text(dosage.get("text"))
    match = _BAG.search(text) if text else None
    return float(match.group(1)) if match else None


def _duration_minutes(dosage: dict[str, Any]) -> float | None:
    repeat = as_dict(as_dict(dosage.get("timing")).get("repeat"))
    duration = number(repeat.get("duration"))
    unit = repeat.get("durationUnit")
    if duration is not None and duration > 0 and isinstance(unit, str) and unit in _MINUTES_PER:
        return duration * _MINUTES_PER[unit]
    return None


def _per_kg(dosage: dict[str, Any]) -> float | None:
    quantities = [
        as_dict(as_dict(d).get("doseQuantity")) for d in as_list(dosage.get("doseAndRate"))
    ]
    quantities += [as_dict(dosage.get(key)) for key in ("dose", "doseQuantity")]
    for quantity in quantities:
        if _unit(quantity) in ("mg/kg", "mg/kg/dose", "mg/{kg}"):
            value = number(quantity.get("value"))
            if value is not None and value >= 0:
                return value
    return None


def _text(value: Any) -> str | None:
    """A dosage text, cut to what a real instruction holds, so that reading it stays cheap."""
    return value[:TEXT_LIMIT] if isinstance(value, str) and value else None


def _texts(dosage: dict[str, Any]) -> list[str]:
    texts = [dosage.get("text"), text_of(dosage.get("method")), text_of(dosage.get("route"))]
    return [t for t in map(_text, texts) if t]


def delivery_of(dosage: dict[str, Any], dose_mg: float | None) -> Delivery:
    """How one Dosage says the dose was given.

    ``dose_mg`` is the dose per administration already read from the dosage. A rate is read
    against the dose in the same measure: mg against mg, mL against the volume given (never a
    vial's strength: a bag is diluted), mg/kg against a dose in mg/kg.
    """
    texts = _texts(dosage)
    per_kg = _per_kg(dosage)
    minutes, source = _duration_minutes(dosage), "duration"
    if minutes is None:
        for kind, per_minute in filter(None, map(_rate, _rates(dosage))):
            amount = {"mg": dose_mg, "ml": _dose_ml(dosage), "mg/kg": per_kg}[kind]
            if amount:
                minutes, source = amount / per_minute, "rate"
                break
    if minutes is None:
        minutes, source = text_minutes(_text(dosage.get("text"))), "text"
    route: list[Code] = codes_of(dosage.get("route"))
    route_text = text_of(dosage.get("route")) or ""
    return Delivery(
        minutes=minutes,
        minutes_from=source if minutes is not None else None,
        mg_per_kg=per_kg,
        bolus=any(_BOLUS.search(t) for t in texts),
        other_purpose=any(_PURPOSE.search(t) for t in texts),
        intramuscular=any(c.code == INTRAMUSCULAR_ROUTE for c in route)
        or bool(_IM_TEXT.search(route_text)),
    )

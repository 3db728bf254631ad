"""Observations the rules read: PHQ-9 total and item 9, blood pressure, pregnancy, hCG, weight.

Values arrive as valueInteger, valueQuantity, numeric strings or LOINC answer codes; a BP
arrives as a panel with components or as separate systolic and diastolic observations, which
are paired when they share an effective time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import LOINC, SNOMED, Code, normalise_system
from cds_service.record.values import (
    codes_of,
    number,
    parse_date,
    parse_instant,
    reference,
    scalar_text,
    text_of,
)

__all__ = ["BloodPressure", "Observations", "Reading", "read_observations"]

PHQ9_TOTAL = ("44261-6", "89204-2")  # PHQ-9, PHQ-9 modified for teens
PHQ9_ITEM9 = "44260-8"
BP_PANELS = ("85354-9", "55284-4")
SYSTOLIC, DIASTOLIC = "8480-6", "8462-4"
PREGNANCY_STATUS = "82810-3"
HCG_QUALITATIVE = ("2106-3", "2112-1", "2118-8", "2110-5", "80384-1", "80385-8")
BODY_WEIGHT = "29463-7"
SKIPPED_STATUSES = {"entered-in-error", "cancelled"}
PHQ9_TOTAL_CODES = frozenset(PHQ9_TOTAL)
HCG_CODES = frozenset(HCG_QUALITATIVE)
READ_CODES = frozenset(
    {*PHQ9_TOTAL, PHQ9_ITEM9, SYSTOLIC, DIASTOLIC, PREGNANCY_STATUS, *HCG_QUALITATIVE, BODY_WEIGHT}
)

ITEM_ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}
ITEM_ANSWER_TEXTS = {
    "not at all": 0,
    "several days": 1,
    "more than half the days": 2,
    "nearly every day": 3,
}
PREGNANT = {(LOINC, "LA15173-0"), (SNOMED, "77386006")}
NOT_PREGNANT = {(LOINC, "LA26683-5"), (SNOMED, "60001007")}
POSITIVE = {(SNOMED, "10828004"), (LOINC, "LA6576-8")}
NEGATIVE = {(SNOMED, "260385009"), (LOINC, "LA6577-6")}


@dataclass(frozen=True)
class Reading:
    reference: str
    code: str
    when: date
    value: float | None = None
    answer: Code | None = None
    text: str | None = None
    instant: datetime | None = field(default=None, compare=False, repr=False)

    def shown(self) -> str:
        if self.answer:
            return f"{self.answer.code} {self.answer.display or ''}".strip()
        if self.value is not None:
            return f"{self.value:g}"
        return self.text or "no value"


@dataclass(frozen=True)
class BloodPressure:
    reference: str
    when: date
    systolic: float
    diastolic: float
    instant: datetime | None = field(default=None, compare=False, repr=False)
    timed: bool = field(default=True, compare=False, repr=False)

    def shown(self) -> str:
        return f"{self.systolic:g}/{self.diastolic:g} mmHg"


@dataclass(frozen=True)
class Observations:
    phq9: tuple[Reading, ...]
    item9: tuple[Reading, ...]
    blood_pressures: tuple[BloodPressure, ...]
    pregnancy_status: tuple[Reading, ...]  # value 1 = pregnant, 0 = not pregnant
    hcg: tuple[Reading, ...]  # value 1 = positive, 0 = negative
    weights: tuple[Reading, ...]  # kg


def _when(resource: dict[str, Any]) -> date | None:
    return (
        parse_date(resource.get("effectiveDateTime"))
        or parse_date(as_dict(resource.get("effectivePeriod")).get("start"))
        or parse_date(resource.get("effectiveInstant"))
        or parse_date(resource.get("issued"))
    )


_MIDNIGHT = datetime.min.replace(tzinfo=UTC)


def _instant(resource: dict[str, Any]) -> datetime | None:
    return (
        parse_instant(resource.get("effectiveDateTime"))
        or parse_instant(as_dict(resource.get("effectivePeriod")).get("start"))
        or parse_instant(resource.get("effectiveInstant"))
    )


def _has_time(resource: dict[str, Any]) -> bool:
    stamp = (
        resource.get("effectiveDateTime")
        or as_dict(resource.get("effectivePeriod")).get("start")
        or resource.get("effectiveInstant")
    )
    return isinstance(stamp, str) and "T" in stamp


def _loinc(concept: Any) -> tuple[str, ...]:
    """The LOINC codes of a CodeableConcept or Coding (``codes_of`` without building Codes:
    this runs for every coding of every observation)."""
    if not isinstance(concept, dict):
        return ()
    codings = concept.get("coding") if "coding" in concept else (concept,)
    found: tuple[str, ...] = ()
    for coding in codings if isinstance(codings, list | tuple) else ():
        if not isinstance(coding, dict):
            continue
        system = coding.get("system")
        if system == LOINC or normalise_system(system) == LOINC:
            code = coding.get("code")
            if isinstance(code, str | int):
                text = str(code).strip()
                if text:
                    found += (text,)
    return found


def _read_elements(obs: dict[str, Any]) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The observation and its components, those with a LOINC code the rules read."""
    codes = _loinc(obs.get("code"))
    elements = [] if READ_CODES.isdisjoint(codes) else [(codes, obs)]
    components = obs.get("component")
    for component in components if isinstance(components, list) else ():
        if isinstance(component, dict):
            codes = _loinc(component.get("code"))
            if not READ_CODES.isdisjoint(codes):
                elements.append((codes, component))
    return elements


def _numeric(element: dict[str, Any]) -> float | None:
    if "valueInteger" in element:
        return number(element["valueInteger"])
    if "valueQuantity" in element:
        return number(as_dict(element["valueQuantity"]).get("value"))
    if "valueString" in element:
        return number(element["valueString"])
    if "valueDecimal" in element:
        return number(element["valueDecimal"])
    return None


def _answer(element: dict[str, Any]) -> Code | None:
    """The LOINC answer code, whichever coding carries it; else the first coding."""
    codes = codes_of(element.get("valueCodeableConcept"))
    return next((c for c in codes if c.system == LOINC), codes[0] if codes else None)


def _item9_value(element: dict[str, Any]) -> tuple[float | None, Code | None]:
    """Item 9 as 0-3: a number, a LOINC answer code in any coding, or the answer's words."""
    value = _numeric(element)
    concept = as_dict(element.get("valueCodeableConcept"))
    codes = codes_of(concept)
    answer = next((c for c in codes if c.code in ITEM_ANSWERS), None)
    if value is None and answer is not None:
        value = ITEM_ANSWERS[answer.code]
    if value is None:
        words = [element.get("valueString"), concept.get("text")] + [
            as_dict(c).get("display") for c in as_list(concept.get("coding"))
        ]
        for text in words:
            if isinstance(text, str):
                lowered = text.lower()
                found = [v for phrase, v in ITEM_ANSWER_TEXTS.items() if phrase in lowered]
                if found:
                    value = max(found)
                    break
    return value, answer or (codes[0] if codes else None)


def _coded_flag(
    element: dict[str, Any], yes: set[tuple[str, str]], no: set[tuple[str, str]]
) -> float | None:
    for code in codes_of(element.get("valueCodeableConcept")):
        if (code.system, code.code) in yes:
            return 1.0
        if (code.system, code.code) in no:
            return 0.0
    text = element.get("valueString") or text_of(element.get("valueCodeableConcept"))
    if isinstance(text, str):
        lowered = text.strip().lower()
        if lowered in ("positive", "pregnant", "detected"):
            return 1.0
        if lowered in ("negative", "not pregnant", "not detected"):
            return 0.0
    return None


def _weight_kg(element: dict[str, Any]) -> float | None:
    quantity = as_dict(element.get("valueQuantity"))
    value = number(quantity.get("value"))
    unit = scalar_text(quantity.get("code") or quantity.get("unit")).lower()
    if value is None:
        return None
    if unit in ("kg", "kilogram", "kilograms"):
        return value
    if unit in ("[lb_av]", "lb", "lbs", "pound", "pounds"):
        return round(value * 0.45359237, 2)
    if unit in ("g",):
        return value / 1000
    return None


def read_observations(resources: list[dict[str, Any]]) -> Observations:
    phq9: list[Reading] = []
    item9: list[Reading] = []
    bps: list[BloodPressure] = []
    preg: list[Reading] = []
    hcg: list[Reading] = []
    weights: list[Reading] = []
    loose: dict[str, dict[str, tuple[str, float]]] = {}  # effective time -> component -> value

    for obs in resources:
        status = obs.get("status")
        if isinstance(status, str) and status in SKIPPED_STATUSES:
            continue
        elements = _read_elements(obs)
        if not elements:
            continue
        when = _when(obs)
        if when is None:
            continue
        instant = _instant(obs)
        ref = reference(obs)
        panel: dict[str, float] = {}
        for element_codes, element in elements:
            if not PHQ9_TOTAL_CODES.isdisjoint(element_codes):
                value = _numeric(element)
                if value is not None:
                    phq9.append(Reading(ref, "44261-6", when, value, instant=instant))
            if PHQ9_ITEM9 in element_codes:
                value, answer = _item9_value(element)
                if value is not None:
                    item9.append(Reading(ref, PHQ9_ITEM9, when, value, answer, instant=instant))
            for component in (SYSTOLIC, DIASTOLIC):
                if component in element_codes:
                    value = _numeric(element)
                    if value is not None:
                        panel[component] = value
            if PREGNANCY_STATUS in element_codes:
                flag = _coded_flag(element, PREGNANT, NOT_PREGNANT)
                if flag is not None:
                    preg.append(
                        Reading(
                            ref, PREGNANCY_STATUS, when, flag, _answer(element), instant=instant
                        )
                    )
            if not HCG_CODES.isdisjoint(element_codes):
                flag = _coded_flag(element, POSITIVE, NEGATIVE)
                if flag is not None:
                    code = min(HCG_CODES.intersection(element_codes))
                    hcg.append(Reading(ref, code, when, flag, _answer(element), instant=instant))
            if BODY_WEIGHT in element_codes:
                kg = _weight_kg(element)
                if kg is not None:
                    weights.append(Reading(ref, BODY_WEIGHT, when, kg, instant=instant))
        if SYSTOLIC in panel and DIASTOLIC in panel:
            bps.append(
                BloodPressure(
                    ref, when, panel[SYSTOLIC], panel[DIASTOLIC], instant, timed=_has_time(obs)
                )
            )
        elif panel:
            stamp = scalar_text(obs.get("effectiveDateTime")) or when.isoformat()
            for component, value in panel.items():
                loose.setdefault(stamp, {})[component] = (ref, value)

    for stamp, parts in loose.items():
        if SYSTOLIC in parts and DIASTOLIC in parts:
            ref = parts[SYSTOLIC][0]
            when = parse_date(stamp)
            if when:
                bps.append(
                    BloodPressure(
                        ref,
                        when,
                        parts[SYSTOLIC][1],
                        parts[DIASTOLIC][1],
                        parse_instant(stamp),
                        timed="T" in stamp,
                    )
                )

    def by_date(items: list[Any]) -> tuple[Any, ...]:
        """Oldest first, ordered within a day by the time of the reading."""
        return tuple(sorted(items, key=lambda r: (r.when, r.instant or _MIDNIGHT)))

    return Observations(
        by_date(phq9), by_date(item9), by_date(bps), by_date(preg), by_date(hcg), by_date(weights)
    )

"""Observations the rules read: PHQ-9 total and item 9, blood pressure, pregnancy, hCG, weight.

Values arrive as valueInteger, valueQuantity, numeric strings or LOINC answer codes; a BP
arrives as a panel with components or as separate systolic and diastolic observations, which
are paired when they share an effective time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.terminology import LOINC, SNOMED, Code, normalise_system
from cds_service.record.values import (
    codes_of,
    number,
    parse_date,
    parse_date_and_instant,
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
HCG_CODES = frozenset(HCG_QUALITATIVE)
HCG = "hcg"
# What each code the rules read is, named by the code its readings carry (HCG: their own).
KINDS = {
    **dict.fromkeys(PHQ9_TOTAL, PHQ9_TOTAL[0]),
    PHQ9_ITEM9: PHQ9_ITEM9,
    SYSTOLIC: SYSTOLIC,
    DIASTOLIC: DIASTOLIC,
    PREGNANCY_STATUS: PREGNANCY_STATUS,
    **dict.fromkeys(HCG_QUALITATIVE, HCG),
    BODY_WEIGHT: BODY_WEIGHT,
}

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


class Reading(NamedTuple):
    """One reading. NamedTuples rather than frozen dataclasses, for speed: a chart holds
    hundreds, and building a frozen dataclass costs three times as much."""

    reference: str
    code: str
    when: date
    value: float | None = None
    answer: Code | None = None
    text: str | None = None
    instant: datetime | None = None

    def shown(self) -> str:
        if self.answer:
            return self.answer.display or self.answer.code
        if self.value is not None:
            return f"{self.value:g}"
        return self.text or "no value"


class BloodPressure(NamedTuple):
    reference: str
    when: date
    systolic: float
    diastolic: float
    instant: datetime | None = None
    timed: bool = True

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
    found: list[str] = []
    for coding in codings if isinstance(codings, (list, tuple)) else ():
        if not isinstance(coding, dict):
            continue
        system = coding.get("system")
        if system == LOINC or normalise_system(system) == LOINC:
            code = coding.get("code")
            if isinstance(code, (str, int)):
                text = str(code).strip()
                if text:
                    found.append(text)
    return tuple(found)


def _read_elements(
    obs: dict[str, Any],
) -> list[tuple[Iterable[str], tuple[str, ...], dict[str, Any]]]:
    """The observation and its components that carry a LOINC code the rules read, each with
    its kinds (KINDS) and its codes."""
    elements: list[tuple[Iterable[str], tuple[str, ...], dict[str, Any]]] = []
    components = obs.get("component")
    for element in (obs, *components) if isinstance(components, list) else (obs,):
        if not isinstance(element, dict):
            continue
        codes = _loinc(element.get("code"))
        if len(codes) == 1:
            kind = KINDS.get(codes[0])
            if kind is not None:
                elements.append(((kind,), codes, element))
        elif codes:
            kinds = {KINDS[code] for code in codes if code in KINDS}
            if kinds:
                elements.append((kinds, codes, element))
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
        stamp = obs.get("effectiveDateTime")
        when, instant = parse_date_and_instant(stamp)
        if when is not None:
            instant = instant or _instant(obs)
        else:
            when = _when(obs)
            if when is None:
                continue
            instant = _instant(obs)
        ref = reference(obs)
        panel: dict[str, float] = {}
        for kinds, codes, element in elements:
            for kind in kinds:
                if kind in (SYSTOLIC, DIASTOLIC):
                    value = _numeric(element)
                    if value is not None:
                        panel[kind] = value
                elif kind == PHQ9_TOTAL[0]:
                    value = _numeric(element)
                    if value is not None:
                        phq9.append(Reading(ref, kind, when, value, instant=instant))
                elif kind == BODY_WEIGHT:
                    kg = _weight_kg(element)
                    if kg is not None:
                        weights.append(Reading(ref, kind, when, kg, instant=instant))
                elif kind == PHQ9_ITEM9:
                    value, answer = _item9_value(element)
                    if value is not None:
                        item9.append(Reading(ref, kind, when, value, answer, instant=instant))
                elif kind == PREGNANCY_STATUS:
                    flag = _coded_flag(element, PREGNANT, NOT_PREGNANT)
                    if flag is not None:
                        answer = _answer(element)
                        preg.append(Reading(ref, kind, when, flag, answer, instant=instant))
                else:
                    flag = _coded_flag(element, POSITIVE, NEGATIVE)
                    if flag is not None:
                        code = min(HCG_CODES.intersection(codes))
                        hcg.append(
                            Reading(ref, code, when, flag, _answer(element), instant=instant)
                        )
        if SYSTOLIC in panel and DIASTOLIC in panel:
            timed = isinstance(stamp, str) and "T" in stamp if stamp else _has_time(obs)
            bps.append(BloodPressure(ref, when, panel[SYSTOLIC], panel[DIASTOLIC], instant, timed))
        elif panel:
            key = scalar_text(stamp) or when.isoformat()
            for component, value in panel.items():
                loose.setdefault(key, {})[component] = (ref, value)

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

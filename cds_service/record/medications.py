"""Medication exposures from MedicationRequest, MedicationStatement and MedicationAdministration.

An exposure knows its ingredients (via terminology), its daily dose per ingredient in mg where
the record allows it, and its period. Where dose or dates cannot be known they are None and say
why; they are never guessed (docs/clinical-basis.md §2.4).

Period of a request: ``timing.repeat.boundsPeriod``/``boundsDuration``; else ``authoredOn``
plus ``dispenseRequest.expectedSupplyDuration x (1 + numberOfRepeatsAllowed)``
(docs/clinical-basis.md §2.2).
A *stopped* request ends at a recorded boundsPeriod end that is already past; otherwise its
real end is unknown and its planned end is kept only as ``end_bound``. A titrating request
becomes one exposure per step when every step is dated (boundsPeriod, or boundsDuration chained
from authoredOn); undated steps give one exposure at the lowest step's dose. A statement dated
by ``effectiveDateTime`` alone has an unknown end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from itertools import pairwise
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.dosage import daily_doses, dose_per_administration, duration_days
from cds_service.record.infusion import Delivery, delivery_of
from cds_service.record.terminology import Code, Recognition, Terminology
from cds_service.record.values import (
    codes_of,
    number,
    parse_date,
    parse_instant,
    reference,
    reference_tail,
    text_of,
)

__all__ = ["MedicationExposure", "exposures_from", "medication_of", "period_of"]

SKIPPED_STATUSES = {"entered-in-error", "cancelled", "draft", "not-taken", "intended", "not-done"}
ONGOING_STATUSES = {"active", "in-progress", "on-hold"}
NOT_TAKEN_INTENTS = {"proposal", "option"}  # plan stays: US Core records home meds with it


@dataclass(frozen=True)
class MedicationExposure:
    """One order, statement or administration of a medication, as far as the record shows."""

    reference: str
    resource_type: str
    status: str | None
    name: str
    codes: tuple[Code, ...]
    recognition: Recognition
    daily_doses: dict[str, float]
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
    dosages: tuple[dict[str, Any], ...] = field(default_factory=tuple, repr=False)
    end_bound: date | None = None  # the latest the exposure can have ended (a planned end)
    request_reference: str | None = None  # the MedicationRequest an administration fulfils
    period_minutes: float | None = None  # an administration's length, from effectivePeriod

    @cached_property
    def delivery(self) -> Delivery:
        """How each dose was given (record/infusion.py): an infusion's length, from the
        effectivePeriod, duration, rate or text; a dose per kg; a bolus; an IM route. Read on
        first use: the rules ask only about ketamine and esketamine."""
        dosage = self.dosages[0] if self.dosages else {}
        found = delivery_of(dosage, self.dose_mg_per_administration)
        if self.period_minutes:
            return found._replace(minutes=self.period_minutes, minutes_from="period")
        return found

    @property
    def minutes(self) -> float | None:
        return self.delivery.minutes

    @property
    def ingredients(self) -> tuple[str, ...]:
        return self.recognition.ingredients

    def daily_dose(self, ingredient: str) -> float | None:
        return self.daily_doses.get(ingredient)

    @property
    def daily_dose_mg(self) -> float | None:
        """The daily dose of a single-ingredient product."""
        return next(iter(self.daily_doses.values())) if len(self.daily_doses) == 1 else None

    def days(self, today: date) -> int | None:
        """Days covered, to today if ongoing; None when the period cannot be known."""
        if self.start is None or not self.duration_known:
            return None
        end = today if self.ongoing else self.end
        return None if end is None else max(0, (min(end, today) - self.start).days)


def exposures_from(
    resource: dict[str, Any],
    terminology: Terminology,
    medications: dict[str, dict[str, Any]],
    today: date,
) -> list[MedicationExposure]:
    """The exposures one medication resource records: none when it should not count, or when
    it names no ingredient the knowledge base knows, since no rule reads such a medication.
    An administration that names its request is kept, so the request is not counted twice."""
    rtype = resource.get("resourceType")
    status = resource.get("status") if isinstance(resource.get("status"), str) else None
    if status in SKIPPED_STATUSES or resource.get("doNotPerform") is True:
        return []
    intent = resource.get("intent") if isinstance(resource.get("intent"), str) else None
    if rtype == "MedicationRequest" and intent in NOT_TAKEN_INTENTS:
        return []
    codes, texts = medication_of(resource, medications)
    recognition = terminology.recognise(codes, texts)
    if not recognition.ingredients and not (
        rtype == "MedicationAdministration" and as_dict(resource.get("request")).get("reference")
    ):
        return []
    name = (
        next((t for t in texts if t), None)
        or next((c.display for c in codes if c.display), None)
        or "unnamed medication"
    )
    common: dict[str, Any] = {
        "reference": reference(resource),
        "resource_type": str(rtype),
        "status": status,
        "name": name,
        "codes": tuple(codes),
        "recognition": recognition,
        "status_reason": _status_reason(resource),
        "reason_codes": tuple(
            c for cc in as_list(resource.get("reasonCode")) for c in codes_of(cc)
        ),
        "reason_references": _reason_refs(resource),
        "intent": intent,
    }
    first = recognition.ingredients[0] if recognition.ingredients else ""

    if rtype == "MedicationAdministration":
        dosage = as_dict(resource.get("dosage"))
        when = parse_date(resource.get("effectiveDateTime")) or parse_date(
            as_dict(resource.get("effectivePeriod")).get("start")
        )
        return [
            MedicationExposure(
                **common,
                daily_doses={},
                dose_note=None,
                dose_mg_per_administration=dose_per_administration([dosage], recognition, first),
                start=when,
                end=when,
                ongoing=False,
                duration_known=when is not None,
                route=tuple(codes_of(dosage.get("route"))),
                route_text=text_of(dosage.get("route")),
                dosages=(dosage,),
                request_reference=reference_tail(as_dict(resource.get("request")).get("reference")),
                period_minutes=_minutes(as_dict(resource.get("effectivePeriod"))),
            )
        ]

    field_name = "dosageInstruction" if rtype == "MedicationRequest" else "dosage"
    dosages = [as_dict(d) for d in as_list(resource.get(field_name)) if isinstance(d, dict)]
    exposures = []
    for group, start, end, explicit, lowest in _parts(resource, dosages):
        doses, from_text = _doses(group, recognition, lowest)
        end_bound = end
        if (
            rtype == "MedicationRequest"
            and status == "stopped"
            and not (explicit and end is not None and end <= today)
        ):
            end = None  # stopped early or on time: only a recorded past end says when
        if rtype == "MedicationRequest":
            ongoing = status in ONGOING_STATUSES and (end is None or end >= today)
        else:  # a statement is ongoing only when its effectivePeriod is open-ended
            ongoing = (
                status in ONGOING_STATUSES
                and end is None
                and isinstance(resource.get("effectivePeriod"), dict)
            )
        note = None
        if not doses:
            note = "dose or frequency not recorded" if group else "no dosage recorded"
        elif lowest:
            note = "a titrating order without step dates: the lowest step dose is used"
        elif from_text:
            note = "read from the dosage text"
        first_dosage = group[0] if group else {}
        exposures.append(
            MedicationExposure(
                **common,
                daily_doses=doses,
                dose_note=note,
                dose_mg_per_administration=dose_per_administration(group, recognition, first),
                start=start,
                end=None if ongoing else end,
                ongoing=ongoing,
                duration_known=start is not None and (ongoing or end is not None),
                route=tuple(codes_of(first_dosage.get("route"))),
                route_text=text_of(first_dosage.get("route")),
                dosages=tuple(group),
                end_bound=None if ongoing else end_bound,
            )
        )
    return exposures


def medication_of(
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
            medication = medications.get(reference_tail(ref) or ref, {})  # or a urn:uuid
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


def _minutes(period: dict[str, Any]) -> float | None:
    start, end = parse_instant(period.get("start")), parse_instant(period.get("end"))
    if start and end and end >= start:
        return (end - start).total_seconds() / 60
    return None


def _sequence_groups(dosages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Dosages grouped by ``sequence``: doses within one sequence are taken together."""
    groups: dict[object, list[dict[str, Any]]] = {}
    for dosage in dosages:
        sequence = dosage.get("sequence")
        key = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
        groups.setdefault(key, []).append(dosage)
    return [
        groups[k] for k in sorted(groups, key=lambda k: (k is None, k if isinstance(k, int) else 0))
    ]


Part = tuple[list[dict[str, Any]], date | None, date | None, bool, bool]


def _parts(resource: dict[str, Any], dosages: list[dict[str, Any]]) -> list[Part]:
    """(dosages, start, end, end stated explicitly, use the lowest step dose) per exposure.

    A titrating request gives one exposure per step when the steps' dates are known: each step
    has its own non-overlapping boundsPeriod, or every step but the last has a boundsDuration
    (chained from authoredOn; the last step runs to the order's end). Otherwise it gives one
    exposure over the order's period at the lowest step's dose, never a sum across steps.
    """
    groups = _sequence_groups(dosages)
    if resource.get("resourceType") != "MedicationRequest" or len(groups) < 2:
        return [(dosages, *period_of(resource, dosages), False)]
    order_start, order_end, order_explicit = period_of(resource, [])
    bounded = [_bounds(group) for group in groups]
    steps = [b for b in bounded if b is not None]
    if len(steps) == len(groups) and not _overlapping(steps):
        return [
            (g, b[0], b[1], b[1] is not None, False) for g, b in zip(groups, steps, strict=True)
        ]
    durations = [_bounds_duration(group) for group in groups]
    if order_start and all(d is not None for d in durations[:-1]):
        parts: list[Part] = []
        start: date | None = order_start
        for index, (group, days) in enumerate(zip(groups, durations, strict=True)):
            if days is not None and start is not None:
                end = _plus_days(start, days)
            elif index == len(groups) - 1 and order_end and start and order_end > start:
                end = order_end
            else:
                end = None
            parts.append((group, start, end, False, False))
            start = end
        return parts
    return [(dosages, order_start, order_end, order_explicit, True)]


def _overlapping(steps: list[tuple[date, date | None]]) -> bool:
    """True when titration steps share dates (copied from the order): their doses overlap."""
    ordered = sorted(steps, key=lambda step: step[0])
    return any(earlier[1] is None or later[0] < earlier[1] for earlier, later in pairwise(ordered))


def _doses(
    group: list[dict[str, Any]], recognition: Recognition, lowest: bool
) -> tuple[dict[str, float], bool]:
    if not lowest:
        return daily_doses(group, recognition)
    per_step = [daily_doses(step, recognition) for step in _sequence_groups(group)]
    known = [doses for doses, _ in per_step if doses]
    if not known:
        return {}, False
    names = set.intersection(*(set(d) for d in known))
    return {n: min(d[n] for d in known) for n in names}, any(t for _, t in per_step)


def _plus_days(start: date, days: float) -> date | None:
    try:
        return start + timedelta(days=round(days))
    except OverflowError:
        return None


def _bounds(dosages: list[dict[str, Any]]) -> tuple[date, date | None] | None:
    """(start, end) of the first dosage with a boundsPeriod start."""
    for dosage in dosages:
        repeat = as_dict(as_dict(dosage.get("timing")).get("repeat"))
        bounds = as_dict(repeat.get("boundsPeriod"))
        start = parse_date(bounds.get("start"))
        if start:
            return start, parse_date(bounds.get("end"))
    return None


def _bounds_duration(dosages: list[dict[str, Any]]) -> float | None:
    for dosage in dosages:
        repeat = as_dict(as_dict(dosage.get("timing")).get("repeat"))
        days = duration_days(repeat.get("boundsDuration"))
        if days is not None:
            return days
    return None


def period_of(
    resource: dict[str, Any], dosages: list[dict[str, Any]]
) -> tuple[date | None, date | None, bool]:
    """(start, end, whether the end was stated rather than computed from a supply)."""
    if resource.get("resourceType") == "MedicationStatement":
        period = as_dict(resource.get("effectivePeriod"))
        start = parse_date(period.get("start")) or parse_date(resource.get("effectiveDateTime"))
        end = parse_date(period.get("end"))
        return start, end, end is not None
    bounds = _bounds(dosages)
    if bounds and bounds[1] is not None:
        return bounds[0], bounds[1], True
    start = bounds[0] if bounds else parse_date(resource.get("authoredOn"))
    days = _bounds_duration(dosages)
    if days is not None and start:
        return start, _plus_days(start, days), False
    dispense = as_dict(resource.get("dispenseRequest"))
    supply = duration_days(dispense.get("expectedSupplyDuration"))
    if start and supply is not None:
        repeats = number(dispense.get("numberOfRepeatsAllowed")) or 0
        if 0 <= repeats <= 100:
            return start, _plus_days(start, supply * (1 + repeats)), False
    return start, None, False


def _status_reason(resource: dict[str, Any]) -> str | None:
    reasons = resource.get("statusReason")
    concepts = as_list(reasons) if isinstance(reasons, list) else [reasons]
    texts = [text_of(c) for c in concepts if c]
    return "; ".join(t for t in texts if t) or None


def _reason_refs(resource: dict[str, Any]) -> tuple[str, ...]:
    refs = [as_dict(r).get("reference") for r in as_list(resource.get("reasonReference"))]
    return tuple(r for r in refs if isinstance(r, str))

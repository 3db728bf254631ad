"""Draft orders from ``draftOrders``: what each asks for, read as the record reads medications.

A MedicationRequest is recognised by RxNorm ingredient or product, NDC, or a contained or
referenced Medication, then by name (flagged). A ServiceRequest is recognised by code: esketamine
administration (HCPCS G2082/G2083), ECT (CPT 90870), TMS (CPT 90867-90869), or a ketamine
infusion named in its text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.dosage import daily_doses, dose_per_administration
from cds_service.record.infusion import Delivery, delivery_of
from cds_service.record.medications import medication_of, period_of
from cds_service.record.terminology import Code, Recognition, Terminology
from cds_service.record.values import codes_of, reference, text_of

__all__ = ["DraftOrder", "draft_orders"]

_KETAMINE_WORD = re.compile(r"\bketamine\b", re.I)
_INFUSION_START = re.compile(r"\binfusion", re.I)
_INFUSION_WORD = re.compile(r"\binfusion\b", re.I)
_MINUTES = {"s": 1 / 60, "min": 1.0, "h": 60.0, "d": 1440.0}


@dataclass(frozen=True)
class DraftOrder:
    """One draft order and what it asks for."""

    reference: str | None  # "Type/id", from the id or the entry's fullUrl; None when neither
    resource_type: str
    kind: str  # ketamine | esketamine | ect | tms | ketamine-infusion | other
    name: str
    recognition: Recognition
    dose_mg: float | None
    daily_doses: dict[str, float]
    route: tuple[Code, ...]
    route_text: str | None
    reason_codes: tuple[Code, ...]
    reason_references: tuple[str, ...]
    start: date | None
    # How the dose is to be given (record/infusion.py): infusion length, mg/kg, bolus, IM.
    delivery: Delivery = field(default_factory=Delivery)

    @property
    def matched_by_name(self) -> bool:
        return self.recognition.by_name

    @property
    def infusion_minutes(self) -> float | None:
        return self.delivery.minutes

    @property
    def dose_mg_per_kg(self) -> float | None:
        return self.delivery.mg_per_kg


def draft_orders(
    entries: list[tuple[dict[str, Any], str | None]], terminology: Terminology
) -> list[DraftOrder]:
    """Every order in draftOrders (resource, fullUrl), with its kind (``other`` when none of
    ours). A resource without an id takes its reference from the fullUrl."""
    medications: dict[str, dict[str, Any]] = {}
    for resource, full_url in entries:
        if resource.get("resourceType") == "Medication":
            medications[reference(resource)] = resource
            if full_url:
                medications[full_url] = resource
    out = []
    for resource, full_url in entries:
        rtype = resource.get("resourceType")
        ref = _reference(resource, full_url)
        if rtype == "MedicationRequest":
            out.append(_medication_order(resource, ref, terminology, medications))
        elif rtype == "ServiceRequest":
            out.append(_service_order(resource, ref, terminology))
    return out


def _reference(resource: dict[str, Any], full_url: str | None) -> str | None:
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rtype, str):
        return None  # not a resource, so no "Type/id" (and no str() of whatever it holds)
    if isinstance(rid, str) and re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", rid):
        return f"{rtype}/{rid}"
    if full_url:
        tail = "/".join(full_url.rstrip("/").split("/")[-2:])
        if re.fullmatch(r"[A-Za-z]+/[A-Za-z0-9\-.]{1,64}", tail) and tail.startswith(f"{rtype}/"):
            return tail
    return None


def names_ketamine_infusion(text: str) -> bool:
    """True when one line names ketamine and then an infusion, or an infusion and then ketamine.

    The same test as the regex ``ketamine.*infusion|infusion.*ketamine`` (with word boundaries)
    in linear time: the regex backtracked quadratically on a long line repeating one word
    without the other (a 150 KB code.text took 17 s).
    """
    for line in text.split("\n"):  # "." does not cross a newline
        ketamine = [m.start() for m in _KETAMINE_WORD.finditer(line)]
        if not ketamine:
            continue
        if any(m.start() > ketamine[0] for m in _INFUSION_START.finditer(line)):
            return True
        if any(m.start() < ketamine[-1] for m in _INFUSION_WORD.finditer(line)):
            return True
    return False


def _reasons(resource: dict[str, Any]) -> tuple[tuple[Code, ...], tuple[str, ...]]:
    codes = tuple(c for cc in as_list(resource.get("reasonCode")) for c in codes_of(cc))
    refs = tuple(
        r
        for r in (as_dict(x).get("reference") for x in as_list(resource.get("reasonReference")))
        if isinstance(r, str)
    )
    return codes, refs


def _delivery(dosages: list[dict[str, Any]], dose_mg: float | None) -> Delivery:
    """The first dosage that states an infusion length, else the first dosage."""
    found = [delivery_of(d, dose_mg) for d in dosages[:5]]
    return next((d for d in found if d.minutes is not None), found[0] if found else Delivery())


def _medication_order(
    resource: dict[str, Any],
    ref: str | None,
    terminology: Terminology,
    medications: dict[str, dict[str, Any]],
) -> DraftOrder:
    codes, texts = medication_of(resource, medications)
    recognition = terminology.recognise(codes, texts)
    names = set(recognition.ingredients)
    kind = "esketamine" if "esketamine" in names else "ketamine" if "ketamine" in names else "other"
    dosages = [
        as_dict(d) for d in as_list(resource.get("dosageInstruction")) if isinstance(d, dict)
    ]
    first = dosages[0] if dosages else {}
    ingredient = recognition.ingredients[0] if recognition.ingredients else ""
    reason_codes, reason_refs = _reasons(resource)
    start, _, _ = period_of(resource, dosages)
    dose_mg = dose_per_administration(dosages, recognition, ingredient)
    return DraftOrder(
        reference=ref,
        resource_type="MedicationRequest",
        kind=kind,
        name=next((t for t in texts if t), None)
        or next((c.display for c in codes if c.display), "unnamed medication"),
        recognition=recognition,
        dose_mg=dose_mg,
        daily_doses=daily_doses(dosages, recognition)[0],
        route=tuple(codes_of(first.get("route"))),
        route_text=text_of(first.get("route")),
        reason_codes=reason_codes,
        reason_references=reason_refs,
        start=start,
        delivery=_delivery(dosages, dose_mg),
    )


def _service_order(
    resource: dict[str, Any], ref: str | None, terminology: Terminology
) -> DraftOrder:
    codes = codes_of(resource.get("code"))
    text = text_of(resource.get("code"), codes) or ""
    if terminology.valueset("esketamine-administration").match(codes):
        kind = "esketamine"
    elif terminology.valueset("ect-procedure").match(codes):
        kind = "ect"
    elif terminology.valueset("tms-procedure").match(codes):
        kind = "tms"
    elif names_ketamine_infusion(text):
        kind = "ketamine-infusion"
    else:
        kind = "other"
    reason_codes, reason_refs = _reasons(resource)
    return DraftOrder(
        reference=ref,
        resource_type="ServiceRequest",
        kind=kind,
        name=text or "unnamed service",
        recognition=Recognition(),
        dose_mg=None,
        daily_doses={},
        route=(),
        route_text=None,
        reason_codes=reason_codes,
        reason_references=reason_refs,
        start=None,
    )

"""Drug interactions with ketamine/esketamine (docs/clinical-basis.md §9; Spravato label §7).

When  a ketamine/esketamine order is in play and the patient takes (an ongoing medication) or
      is being ordered (another draft) one of:
Then  benzodiazepine, opioid or other CNS depressant (z-drugs, gabapentinoids)
          -> interaction-cns-depressant (more sedation and respiratory depression; monitor)
      psychostimulant -> interaction-stimulant-bp (higher BP; monitor BP closely)
      MAOI -> interaction-maoi-bp (higher BP; monitor BP closely)
      lamotrigine -> interaction-lamotrigine (information: blunts dissociation; effect on the
          antidepressant action unknown)
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.findings import Evidence, Reason
from cds_service.record.medications import MedicationExposure
from cds_service.record.orders import DraftOrder
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology

__all__ = ["INTERACTION_GROUPS", "current_medications", "interactions"]

CURRENT_STATUSES = {"active", "in-progress", "on-hold"}  # while not past their end
INTERACTION_GROUPS = (  # (ingredient group, reason), most serious first
    ("cns-depressant", "interaction-cns-depressant"),
    ("stimulant", "interaction-stimulant-bp"),
    ("maoi", "interaction-maoi-bp"),
    ("lamotrigine", "interaction-lamotrigine"),
)


def _shown(name: str, daily: float | None) -> str:
    return f"{name}, {daily:g} mg/day" if daily is not None else f"{name}, dose not recorded"


def current_medications(record: PatientRecord) -> list[MedicationExposure]:
    """The medications taken now: ongoing, or an active order or statement not yet past its
    end (an administration is a moment, not a current medication)."""
    return [
        e
        for e in record.medications
        if e.ongoing
        or (
            e.status in CURRENT_STATUSES
            and e.resource_type != "MedicationAdministration"
            and (e.end is None or e.end >= record.today)
        )
    ]


def interactions(
    record: PatientRecord, other_orders: list[DraftOrder], terminology: Terminology
) -> list[Reason]:
    """Interaction reasons, each naming the medication, its dose and its start date."""
    found: dict[str, list[Evidence]] = {}
    current = current_medications(record)
    sources: list[tuple[str, tuple[str, ...], str | None, date | None, str, dict[str, float]]]
    sources = [
        (
            e.reference,
            e.ingredients,
            e.codes[0].token() if e.codes else None,
            e.start,
            e.name,
            e.daily_doses,
        )
        for e in current
    ]
    sources += [
        (
            o.reference or o.resource_type,
            o.recognition.ingredients,
            None,
            o.start,
            f"{o.name} (draft order)",
            o.daily_doses,
        )
        for o in other_orders
        if o.kind == "other"
    ]
    for ref, ingredients, code, start, name, doses in sources:
        for ingredient in ingredients:
            for group, reason in INTERACTION_GROUPS:
                if terminology.in_group(ingredient, group):
                    found.setdefault(reason, []).append(
                        Evidence(ref, code, start, _shown(name, doses.get(ingredient)))
                    )
                    break
    return [
        Reason(reason, tuple(found[reason])) for _, reason in INTERACTION_GROUPS if reason in found
    ]

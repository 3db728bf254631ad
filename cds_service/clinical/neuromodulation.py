"""Cautions for ECT and TMS orders (clinical.md A6; design.md §7 "Neuromodulation orders").

When  an ECT order is in play
Then  a myocardial infarction within 90 days (or undated and active) -> ect-recent-mi
      aneurysm, AVM or intracerebral hemorrhage, any status          -> ect-vascular-lesion
      raised intracranial pressure or a space-occupying lesion      -> ect-raised-icp
When  a TMS order is in play
Then  a cochlear implant, neurostimulator or cardiac device          -> tms-metal-implant
      epilepsy or seizures, any status                               -> tms-seizure-risk
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.findings import Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology

__all__ = ["neuromodulation_cautions"]

_VASCULAR_SETS = (
    "aneurysmal-vascular-disease",
    "arteriovenous-malformation",
    "intracerebral-hemorrhage",
)


def neuromodulation_cautions(
    kind: str, record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Reason]:
    """The coded cautions for an ``ect`` or ``tms`` order, each with its evidence."""

    def found(
        code: str,
        vs_ids: tuple[str, ...],
        *,
        active_only: bool = False,
        since_days: int | None = None,
    ) -> Reason | None:
        since = record.today - timedelta(days=since_days) if since_days else None
        evidence = [
            condition_evidence(c, m)
            for vs_id in vs_ids
            for c, m in record.conditions_in(terminology.valueset(vs_id), active_only=active_only)
            if since is None or c.date is None or c.date >= since
        ]
        return Reason(code, tuple(evidence)) if evidence else None

    if kind == "ect":
        candidates = [
            found(
                "ect-recent-mi",
                ("acute-myocardial-infarction",),
                since_days=settings.acute_cardiovascular_window_days,
            ),
            found("ect-vascular-lesion", _VASCULAR_SETS),
            found("ect-raised-icp", ("raised-intracranial-pressure",), active_only=True),
        ]
    elif kind == "tms":
        candidates = [
            found("tms-metal-implant", ("head-metal-implant",)),
            found("tms-seizure-risk", ("seizure-disorder",)),
        ]
    else:
        candidates = []
    return [r for r in candidates if r is not None]

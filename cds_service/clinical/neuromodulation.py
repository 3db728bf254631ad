"""Safety checks for ECT and TMS orders (docs/clinical-basis.md §10).

Sources: APA Task Force on ECT (2001): ECT has no absolute contraindications, only high-risk
conditions; NeuroStar labeling and Rossi et al. 2021 (IFCN safety guidelines): TMS is
contraindicated with conductive or ferromagnetic metal in the head near the coil; the pivotal
TMS trials excluded psychotic depression, for which ECT, or an antidepressant with an
antipsychotic, come first (CANMAT 2016/2023).

Status, from the most serious reason found: hard-stop > high-risk > caution > no-concern.

When  a TMS order is in play
Then  a device or metal in the head or neck: cochlear implant, aneurysm clip or coil (from the
      procedure history too), intracranial or vagus stimulator, a magnetic intraocular
      fragment                                   -> tms-metal-implant (hard-stop)
      a stimulator or metal fragments of unknown site -> tms-device-site-unknown (caution:
                                                    confirm the location)
      an aneurysm, AVM or ICH on record with no clip or coil coded
                                                 -> tms-aneurysm-screen (caution: screen for
                                                    clips or coils)
      a cardiac pacemaker, defibrillator or assist device -> cardiac-implanted-device (caution)
      epilepsy or seizures, any status           -> tms-seizure-risk (caution)
      MDD with psychotic features                -> tms-psychotic-features (caution: efficacy
                                                    not established)
When  an ECT order is in play
Then  a myocardial infarction within 90 days (or undated and active) -> ect-recent-mi
      active unstable angina or acute heart failure, recent or undated -> ect-unstable-cardiac
      a cerebral infarction within 90 days                          -> ect-recent-stroke
      an aneurysm, AVM or intracerebral hemorrhage, any status      -> ect-vascular-lesion
      raised intracranial pressure or a space-occupying lesion      -> ect-raised-icp
                                                 (each high-risk: anaesthesia and specialist
                                                    review)
      a cardiac pacemaker, defibrillator or assist device -> cardiac-implanted-device (caution)
When  either order is in play and the patient is pregnant -> neuromodulation-pregnancy (caution:
      ECT needs obstetric and anaesthesia input; TMS safety in pregnancy is not established)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import Terminology

__all__ = ["STATUSES", "STATUS_OF", "NeuromodulationCheck", "neuromodulation_check"]

STATUSES = ("hard-stop", "high-risk", "caution", "no-concern")  # most serious first
STATUS_OF = {
    "tms-metal-implant": "hard-stop",
    "ect-recent-mi": "high-risk",
    "ect-vascular-lesion": "high-risk",
    "ect-raised-icp": "high-risk",
    "ect-unstable-cardiac": "high-risk",
    "ect-recent-stroke": "high-risk",
    "neuromodulation-pregnancy": "caution",
    "tms-device-site-unknown": "caution",
    "tms-aneurysm-screen": "caution",
    "tms-seizure-risk": "caution",
    "tms-psychotic-features": "caution",
    "cardiac-implanted-device": "caution",
}
_VASCULAR_SETS = (
    "aneurysmal-vascular-disease",
    "arteriovenous-malformation",
    "intracerebral-hemorrhage",
)


@dataclass(frozen=True)
class NeuromodulationCheck:
    procedure: str  # ect | tms
    status: str  # hard-stop | high-risk | caution | no-concern
    reasons: tuple[Reason, ...]


def neuromodulation_check(
    procedure: str,
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    *,
    pregnancy: Reason | None = None,
) -> NeuromodulationCheck:
    """The reasons on record against an ``ect`` or ``tms`` order, and the status they set.
    ``pregnancy`` is the assessment's pregnancy reason, if any."""

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

    cardiac = found("cardiac-implanted-device", ("cardiac-implanted-device",))
    pregnant = Reason("neuromodulation-pregnancy", pregnancy.evidence) if pregnancy else None
    window = settings.acute_cardiovascular_window_days
    if procedure == "ect":
        candidates = [
            found("ect-recent-mi", ("acute-myocardial-infarction",), since_days=window),
            _unstable_cardiac(record, terminology, window),
            found("ect-recent-stroke", ("cerebral-infarction",), since_days=window),
            found("ect-vascular-lesion", _VASCULAR_SETS),
            found("ect-raised-icp", ("raised-intracranial-pressure",), active_only=True),
            cardiac,
            pregnant,
        ]
    else:
        implant = _head_implant(record, terminology)
        vascular = found("tms-aneurysm-screen", _VASCULAR_SETS)
        candidates = [
            implant,
            found("tms-device-site-unknown", ("implanted-device-unknown-site",)),
            None if implant else vascular,
            cardiac,
            found("tms-seizure-risk", ("seizure-disorder",)),
            found("tms-psychotic-features", ("mdd-psychotic-features",)),
            pregnant,
        ]
    reasons = tuple(r for r in candidates if r is not None)
    status = min((STATUS_OF[r.code] for r in reasons), key=STATUSES.index, default="no-concern")
    return NeuromodulationCheck(procedure, status, reasons)


def _unstable_cardiac(
    record: PatientRecord, terminology: Terminology, window_days: int
) -> Reason | None:
    """Active unstable angina or acute heart failure, recent or undated (an MI is ect-recent-mi)."""
    since = record.today - timedelta(days=window_days)
    infarction = terminology.valueset("acute-myocardial-infarction")
    evidence = [
        condition_evidence(c, m)
        for c, m in record.conditions_in(
            terminology.valueset("acute-cardiovascular-disease"), active_only=True
        )
        if not infarction.contains(m) and (c.date is None or c.date >= since)
    ]
    return Reason("ect-unstable-cardiac", tuple(evidence)) if evidence else None


def _head_implant(record: PatientRecord, terminology: Terminology) -> Reason | None:
    """A device or metal in the head or neck, from conditions or the procedure history."""
    evidence = [
        condition_evidence(c, m)
        for c, m in record.conditions_in(terminology.valueset("head-neck-implant"))
    ]
    placed = terminology.valueset("head-neck-implant-procedure")
    for procedure in record.procedures:
        code = placed.match(procedure.codes)
        if code is not None and procedure.status in (None, "completed"):
            evidence.append(
                Evidence(
                    procedure.reference,
                    code.token(),
                    procedure.when,
                    procedure.text or code.display or "implant procedure",
                )
            )
    return Reason("tms-metal-implant", tuple(evidence)) if evidence else None

"""ECT and TMS as alternatives: which fit the patient, and this patient's cautions for each
(docs/clinical-basis.md §10, §11)."""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Suggestion
from cds_service.services.common import referral
from cds_service.services.content import texts

__all__ = ["alternative_cautions", "alternatives", "psychotic_depression", "therapies"]


def psychotic_depression(assessment: Assessment) -> bool:
    """MDD with psychotic features: ECT, or an antidepressant with an antipsychotic, come
    first, and TMS is not offered (docs/clinical-basis.md §10)."""
    return assessment.reason("psychotic-features") is not None


def therapies(assessment: Assessment) -> list[str]:
    return ["ect"] if psychotic_depression(assessment) else ["tms", "ect"]


def _cautions(assessment: Assessment, therapy: str) -> list[str]:
    cautions = texts()["referralCautions"]
    return list(
        dict.fromkeys(
            cautions[r.code][therapy]
            for r in assessment.reasons
            if therapy in cautions.get(r.code, {})
        )
    )


def alternative_cautions(assessment: Assessment) -> str:
    """This patient's cautions for the alternatives offered, as one short paragraph."""
    return " ".join(
        dict.fromkeys(
            c for therapy in therapies(assessment) for c in _cautions(assessment, therapy)
        )
    )


def alternatives(assessment: Assessment, patient_id: str, today: date) -> list[Suggestion]:
    """TMS and ECT referrals that fit the patient, each noting this patient's cautions."""
    mdd_refs = [c.reference for c, _ in assessment.trd.mdd]
    return [
        referral(
            kind,
            patient_id,
            today,
            reasons=mdd_refs,
            note=" ".join(_cautions(assessment, kind)) or None,
        )
        for kind in therapies(assessment)
    ]

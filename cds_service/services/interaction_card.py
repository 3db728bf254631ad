"""The drug-interaction card: each interacting medication, its dose and its start date."""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import evidence_line, extension, links, source, summary_fit
from cds_service.services.content import md, template, texts

__all__ = ["interaction_card"]


def interaction_card(assessment: Assessment, *, drug: str, ordered: bool) -> Card | None:
    """``ordered``: the drug is being ordered (an order hook), not a course under way."""
    reasons = list(assessment.interactions)
    if not reasons:
        return None
    words = texts()["interaction"]
    names = ", ".join(
        dict.fromkeys(md((e.value or "").split(",")[0]) for r in reasons for e in r.evidence)
    )
    detail = template("drug-interaction.md.j2").render(
        heading=words["heading"]["order" if ordered else "course"].format(drug=drug),
        items=[
            {
                "display": reason_concept(r.code)["display"],
                "effect": words["effects"][r.code],
                "evidence": evidence_line(r),
            }
            for r in reasons
        ],
    )
    info_only = all(r.code == "interaction-lamotrigine" for r in reasons)
    return Card(
        summary=summary_fit(words["summary"].format(drug=drug, names=names)),
        detail=detail.strip(),
        indicator="info" if info_only else "warning",
        source=source("drug-interaction"),
        overrideReasons=override_reasons(),
        links=links("spravato-label"),
        extension=extension(assessment, reasons),
    )

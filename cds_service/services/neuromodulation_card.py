"""The neuromodulation-safety card for an ECT or TMS order: coded cautions, or none found."""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.findings import Reason
from cds_service.protocol.models import Card
from cds_service.record.orders import DraftOrder
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import evidence_line, extension, source, summary_fit
from cds_service.services.content import md, template, texts

__all__ = ["neuromodulation_card"]

VASCULAR_REASONS = (
    "aneurysmal-vascular-disease",
    "arteriovenous-malformation",
    "intracerebral-hemorrhage-history",
)


def neuromodulation_card(order: DraftOrder, cautions: list[Reason], assessment: Assessment) -> Card:
    words = texts()["neuromodulation"]
    label = words["labels"][order.kind]
    vascular = [r for r in assessment.reasons if r.code in VASCULAR_REASONS]
    if cautions:
        names = ", ".join(reason_concept(r.code)["display"] for r in cautions)
        summary = words["summaryCautions"].format(label=label, cautions=names)
    elif order.kind == "tms" and vascular:
        summary = words["summaryVascular"].format(
            label=label, lesion=reason_concept(vascular[0].code)["display"].lower()
        )
    else:
        summary = words["summaryClear"].format(label=label)
    aneurysm = order.kind == "tms" and bool(vascular)
    detail = template("neuromodulation-safety.md.j2").render(
        label=label,
        order_name=md(order.name),
        cautions=[
            {"display": reason_concept(r.code)["display"], "evidence": evidence_line(r)}
            for r in cautions
        ],
        clear=words["clearDetail"].format(label_lower=label.split()[0]),
        aneurysm=bool(aneurysm),
        note=words["notes"][order.kind],
    )
    return Card(
        summary=summary_fit(summary),
        detail=detail.strip(),
        indicator="warning" if cautions or aneurysm else "info",
        source=source("neuromodulation-safety"),
        overrideReasons=override_reasons(),
        extension=extension(assessment, cautions),
    )

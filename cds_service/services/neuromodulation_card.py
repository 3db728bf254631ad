"""The neuromodulation-safety card for an ECT or TMS order.

Its indicator and text follow the neuromodulation status (clinical/neuromodulation.py), never
the ketamine decision: hard-stop critical, high-risk and caution warning, no-concern info. A TMS
hard stop offers to remove the draft order.
"""

from __future__ import annotations

from typing import Literal

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.neuromodulation import STATUS_OF, NeuromodulationCheck
from cds_service.protocol.models import Action, Card, Suggestion
from cds_service.record.orders import DraftOrder
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import evidence_line, extension, sentence_case, source, summary_fit
from cds_service.services.content import md, template, texts

__all__ = ["neuromodulation_card"]

INDICATOR: dict[str, Literal["info", "warning", "critical"]] = {
    "hard-stop": "critical",
    "high-risk": "warning",
    "caution": "warning",
    "no-concern": "info",
}


def neuromodulation_card(
    order: DraftOrder, check: NeuromodulationCheck, assessment: Assessment
) -> Card:
    words = texts()["neuromodulation"]
    label = words["labels"][check.procedure]
    names = ", ".join(
        sentence_case(reason_concept(r.code)["display"])
        for r in check.reasons
        if STATUS_OF[r.code] == check.status
    )
    summary = words["summary"][check.status].format(label=label, reasons=names)
    detail = template("neuromodulation-safety.md.j2").render(
        label=label,
        order_name=md(order.name),
        do=words["do"][check.status],
        reasons=[
            {
                "display": reason_concept(r.code)["display"],
                "evidence": evidence_line(r),
                "action": words["actions"].get(r.code, ""),
            }
            for r in check.reasons
        ],
        source=words["source"][check.procedure],
    )
    suggestions = []
    if check.status == "hard-stop" and order.reference:
        suggestions.append(
            Suggestion(
                label=words["deleteLabel"],
                isRecommended=True,
                actions=[
                    Action(
                        type="delete", description=words["deleteLabel"], resourceId=order.reference
                    )
                ],
            )
        )
    body = extension(assessment, list(check.reasons))
    next(iter(body.values()))["neuromodulation"] = {
        "procedure": check.procedure,
        "status": check.status,
    }
    return Card(
        summary=summary_fit(summary),
        detail=detail.strip(),
        indicator=INDICATOR[check.status],
        source=source("neuromodulation-safety"),
        suggestions=suggestions or None,
        selectionBehavior="at-most-one" if suggestions else None,
        overrideReasons=override_reasons(),
        extension=body,
    )

"""The neuromodulation-safety card for an ECT or TMS order.

Its indicator and text follow the neuromodulation status (clinical/neuromodulation.py), never
the ketamine decision: hard-stop critical, high-risk and caution warning, no-concern info. A TMS
hard stop offers to remove the draft order.
"""

from __future__ import annotations

from typing import Literal

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.findings import Reason
from cds_service.clinical.neuromodulation import STATUS_OF, NeuromodulationCheck
from cds_service.protocol.models import Action, Card, Suggestion
from cds_service.record.orders import DraftOrder
from cds_service.services.codes import override_reasons, reason_concept
from cds_service.services.common import (
    capital,
    extension,
    links,
    sentence_case,
    source,
    summary_fit,
)
from cds_service.services.content import md, texts
from cds_service.services.detail import Detail, reason_phrase

__all__ = ["neuromodulation_card"]

INDICATOR: dict[str, Literal["info", "warning", "critical"]] = {
    "hard-stop": "critical",
    "high-risk": "warning",
    "caution": "warning",
    "no-concern": "info",
}


GUIDELINE = {"ect": "va-dod-mdd", "tms": "rossi-2021"}


def _line(reason: Reason, action: str) -> str:
    evidence = reason_phrase(reason)
    line = str(reason_concept(reason.code)["display"]) + (f": {evidence}" if evidence else "")
    return f"{line}. {capital(action)}." if action else f"{line}."


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
    summary = words["summary"][check.status].format(
        label=label, reasons=names, procedure=words["procedures"][check.procedure]
    )
    detail = Detail(
        do=words["do"][check.status],
        why=[_line(r, words["actions"].get(r.code, "")) for r in check.reasons]
        or [f"{label}: {md(order.name)}."],
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
        detail=detail.markdown(),
        indicator=INDICATOR[check.status],
        source=source("neuromodulation-safety"),
        suggestions=suggestions or None,
        selectionBehavior="at-most-one" if suggestions else None,
        overrideReasons=override_reasons("neuromodulation-safety"),
        links=links(GUIDELINE[check.procedure]),
        extension=body,
    )

"""The blood-pressure card: a reading in the severe range, to recheck and assess now.

It shows beside the other cards whenever the patient is in scope, and decides nothing: the
eligibility decision stays as the precedence sets it (defer at 180/120; contraindicated stays
contraindicated in pregnancy).
"""

from __future__ import annotations

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, source, summary_fit
from cds_service.services.content import md, template, texts

__all__ = ["blood_pressure_card"]


def blood_pressure_card(assessment: Assessment) -> Card | None:
    severe = assessment.severe_bp
    if severe is None:
        return None
    words = texts()["bloodPressure"]
    code = severe.reason.code
    timing = "urgent" if severe.urgent else "later"
    evidence = severe.reason.evidence[0] if severe.reason.evidence else None
    reading = md(evidence.value) if evidence and evidence.value else "a severe reading"
    when = evidence.date.isoformat() if evidence and evidence.date else "an unknown date"
    state = words["states"]["pregnancy" if assessment.reason("pregnancy") else "postpartum"]
    summary = words["summary"][code][timing].format(bp=reading, date=when, state=state)
    detail = template("blood-pressure.md.j2").render(
        do=words["do"][code][timing],
        reading=reading,
        date=when,
        state=state if code == "bp-severe-pregnancy" else "",
        why=words["why"],
        source=words["source"][code],
    )
    return Card(
        summary=summary_fit(summary),
        detail=detail.strip(),
        indicator="critical",
        source=source("blood-pressure"),
        overrideReasons=override_reasons(),
        extension=extension(assessment, [severe.reason]),
    )

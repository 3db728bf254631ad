"""The blood-pressure card: a reading in the severe range, to recheck and assess now.

It shows beside the other cards whenever the patient is in scope, and decides nothing: the
eligibility decision stays as the precedence sets it (defer at 180/120; contraindicated stays
contraindicated in pregnancy).
"""

from __future__ import annotations

from datetime import date

from cds_service.clinical.assessment import Assessment
from cds_service.protocol.models import Card, Link
from cds_service.services.codes import override_reasons
from cds_service.services.common import extension, links, source, summary_fit
from cds_service.services.content import md, texts
from cds_service.services.detail import Detail, day, short_day

__all__ = ["blood_pressure_card"]

GUIDELINE = {"bp-hypertensive-crisis": "aha-acc-2025", "bp-severe-pregnancy": "acog-767"}


def blood_pressure_card(
    assessment: Assessment, *, today: date, handouts: tuple[Link, ...] = ()
) -> Card | None:
    """``handouts``: on an order hook for ketamine or esketamine, that drug's handout."""
    severe = assessment.severe_bp
    if severe is None:
        return None
    words = texts()["bloodPressure"]
    code = severe.reason.code
    timing = "urgent" if severe.urgent else "later"
    evidence = severe.reason.evidence[0] if severe.reason.evidence else None
    reading = md(evidence.value) if evidence and evidence.value else "a severe reading"
    state = words["states"]["pregnancy" if assessment.reason("pregnancy") else "postpartum"]
    summary = words["summary"][code][timing].format(
        bp=reading,
        date=short_day(evidence.date, today) if evidence and evidence.date else "an unknown date",
        state=state,
    )
    when = day(evidence.date) if evidence and evidence.date else "an unknown date"
    context = f", {state}" if code == "bp-severe-pregnancy" else ""
    detail = Detail(
        do=words["do"][code][timing],
        why=[f"Blood pressure {reading} on {when}{context}. {words['why']}"],
        source=words["source"][code],
    )
    return Card(
        summary=summary_fit(summary),
        detail=detail.markdown(),
        indicator="critical",
        source=source("blood-pressure"),
        overrideReasons=override_reasons("blood-pressure"),
        links=links(GUIDELINE[code], handouts=handouts),
        extension=extension(assessment, [severe.reason]),
    )

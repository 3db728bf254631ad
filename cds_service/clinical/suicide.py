"""Suicide-risk overlay (docs/clinical-basis.md §5).

When  PHQ-9 item 9 >= 2 within 30 days, an active suicidal-ideation Condition recorded within
      30 days, or a suicide attempt or intentional self-harm within 30 days
      -> suicide-risk-urgent (critical)
      PHQ-9 item 9 = 1 within 30 days, or active suicidal ideation with no date on record
      -> suicide-risk-assessment-required (warning)
It never changes the eligibility decision: esketamine is indicated, with an oral
antidepressant, for MDD with acute suicidal ideation or behaviour (Spravato label §1), though it
does not replace hospitalisation; ECT is another option for severe suicidality (VA/DoD 2022).
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = ["suicide_risk"]


def suicide_risk(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> Reason | None:
    since = record.today - timedelta(days=settings.suicide_window_days)
    items = [
        r
        for r in record.observations.item9
        if since <= r.when <= record.today and r.value is not None
    ]
    urgent: list[Evidence] = [
        _item9(r) for r in items if (r.value or 0) >= settings.item9_urgent_at
    ]
    undated: list[Evidence] = []
    for vs_id, active_only in (("suicidal-ideation", True), ("intentional-self-harm", False)):
        for condition, code in record.conditions_in(
            terminology.valueset(vs_id), active_only=active_only
        ):
            when = (
                (condition.recorded or condition.onset)
                if active_only
                else (condition.onset or condition.recorded)
            )
            if when is None and condition.active:
                undated.append(condition_evidence(condition, code))
            elif when is not None and since <= when <= record.today:
                urgent.append(condition_evidence(condition, code))
    if urgent:
        return Reason("suicide-risk-urgent", tuple(urgent))
    # Active ideation with no date cannot be shown to be recent; it still needs assessing.
    some = [_item9(r) for r in items if r.value == 1] + undated
    return Reason("suicide-risk-assessment-required", tuple(some)) if some else None


def _item9(reading: Reading) -> Evidence:
    display = reading.answer.display if reading.answer else None
    answer = f", {display.lower()}" if display else ""
    return Evidence(
        reading.reference,
        f"{LOINC}|44260-8",
        reading.when,
        f"PHQ-9 item 9 = {reading.value:g}{answer}",
    )

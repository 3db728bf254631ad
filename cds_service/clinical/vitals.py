"""Blood pressure and age classes (clinical.md §C0 R-BP, R-AGE, R-CAUTION).

Source: seed "poorly controlled blood pressure"; Spravato label 5.6 (BP rises peak ~40 min,
last ~4 h; assess BP before dosing; consider risk when baseline > 140/90).

When  the latest BP (panel, or paired systolic/diastolic) within ``bp_window_days``
Then  >= 180 or >= 120 -> bp-hypertensive-crisis (defer; critical in itself)
      >= 160 or >= 100 -> bp-poorly-controlled (defer)
      >  140 or >  90  -> bp-above-140-90 (candidate-caution)
      none in window   -> bp-missing (indeterminate: BP is required before dosing)
      an active I16 (hypertensive urgency/emergency) dated within the window -> crisis
      no birth date -> missing-birth-date (indeterminate: the patient might be a minor)
      age < 18 -> age-under-18 (not-indicated: esketamine not approved under 18)
      age >= 65 -> age-65-plus (candidate-caution)
"""

from __future__ import annotations

from datetime import timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import BloodPressure
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = ["age_reasons", "blood_pressure_reason", "latest_blood_pressure"]


def latest_blood_pressure(
    record: PatientRecord, settings: ClinicalSettings
) -> BloodPressure | None:
    """The latest reading in the window. When that day has a reading without a time, the order
    of that day's readings is unknown, so the highest of them is taken rather than guessed."""
    since = record.today - timedelta(days=settings.bp_window_days)
    recent = [bp for bp in record.observations.blood_pressures if since <= bp.when <= record.today]
    if not recent:
        return None
    last_day = [bp for bp in recent if bp.when == recent[-1].when]
    if any(not bp.timed for bp in last_day):
        return max(
            last_day,
            key=lambda bp: (
                bp.systolic >= settings.bp_crisis_at[0] or bp.diastolic >= settings.bp_crisis_at[1],
                bp.systolic,
                bp.diastolic,
            ),
        )
    return recent[-1]


def classify_blood_pressure(
    systolic: float, diastolic: float, settings: ClinicalSettings
) -> str | None:
    """The BP reason code for one reading, or None when it is at or below 140/90."""
    if systolic >= settings.bp_crisis_at[0] or diastolic >= settings.bp_crisis_at[1]:
        return "bp-hypertensive-crisis"
    if systolic >= settings.bp_defer_at[0] or diastolic >= settings.bp_defer_at[1]:
        return "bp-poorly-controlled"
    if systolic > settings.bp_caution_above[0] or diastolic > settings.bp_caution_above[1]:
        return "bp-above-140-90"
    return None


def blood_pressure_reason(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> Reason | None:
    """The BP class of the latest reading. An active crisis diagnosis (I16) dated within the
    window counts as a crisis too, unless a later reading is calmer (clinical.md B1.2)."""
    since = record.today - timedelta(days=settings.bp_window_days)
    bp = latest_blood_pressure(record, settings)
    crisis = [
        condition_evidence(c, code)
        for c, code in record.conditions_in(
            terminology.valueset("hypertensive-crisis"), active_only=True
        )
        if c.date is not None and c.date >= since and (bp is None or bp.when < c.date)
    ]
    if crisis:
        return Reason("bp-hypertensive-crisis", tuple(crisis))
    if bp is None:
        return Reason("bp-missing")
    code = classify_blood_pressure(bp.systolic, bp.diastolic, settings)
    if code is None:
        return None
    return Reason(code, (Evidence(bp.reference, f"{LOINC}|85354-9", bp.when, bp.shown()),))


def age_reasons(record: PatientRecord, settings: ClinicalSettings) -> list[Reason]:
    age = record.age
    if age is None:  # the patient might be a minor: say so rather than assume an adult
        reference = f"Patient/{record.patient_id}" if record.patient_id else "Patient"
        return [Reason("missing-birth-date", (Evidence(reference, None, None, "no birth date"),))]
    evidence = (Evidence(f"Patient/{record.patient_id}", None, record.birth_date, f"age {age}"),)
    if age < settings.minimum_age:
        return [Reason("age-under-18", evidence)]
    if age >= settings.older_adult_age:
        return [Reason("age-65-plus", evidence)]
    return []

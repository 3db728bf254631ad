"""Blood pressure and age classes (docs/clinical-basis.md §4, §3.7).

Sources: the seed's "poorly controlled blood pressure"; Spravato label §2 and §5 (assess BP
before dosing, and weigh the risk when it is above 140/90; BP rises peak about 40 minutes after
a dose and last about 4 hours); AHA/ACC 2025 guideline (severe hypertension above 180/120);
ACOG Committee Opinion 767 (severe hypertension in pregnancy and postpartum: 160/110).

When  the latest BP (panel, or paired systolic/diastolic) within ``bp_window_days``
Then  >= 180 or >= 120 -> bp-hypertensive-crisis (defer)
      >= 160 or >= 100 -> bp-poorly-controlled (defer)
      >  140 or >  90  -> bp-above-140-90 (candidate-caution)
      none in window   -> bp-missing (indeterminate: BP is required before dosing)
      an active I16 (hypertensive urgency/emergency) dated within the window -> crisis
Severe range (the blood-pressure card; it decides nothing)
      >= 180 or >= 120, or an active I16 as above -> bp-hypertensive-crisis
      pregnant or within 6 weeks postpartum, >= 160 or >= 110 -> bp-severe-pregnancy
      urgent when the reading is from the last ``bp_urgent_hours`` (a reading with a date and
      no time counts as recent from the day before)
Age   no birth date -> missing-birth-date (indeterminate: the patient might be a minor)
      age < 18 -> age-under-18 (not-indicated: esketamine is not approved under 18)
      age >= 65 -> age-65-plus (candidate-caution)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import BloodPressure
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = [
    "SevereBloodPressure",
    "age_reasons",
    "blood_pressure_reason",
    "latest_blood_pressure",
    "severe_blood_pressure",
]


@dataclass(frozen=True)
class SevereBloodPressure:
    reason: Reason  # bp-hypertensive-crisis | bp-severe-pregnancy
    urgent: bool  # from the last bp_urgent_hours: recheck now, rather than today


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
    window counts as a crisis too, unless a later reading is calmer (docs/clinical-basis.md §4)."""
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
    return Reason(code, (_reading_evidence(bp),))


def severe_blood_pressure(
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
    *,
    pregnant_or_postpartum: bool,
) -> SevereBloodPressure | None:
    """The latest BP in the severe range, with whether it is recent enough to act on now."""
    bp = latest_blood_pressure(record, settings)
    if bp is not None and pregnant_or_postpartum:
        low = settings.bp_severe_pregnancy_at
        if bp.systolic >= low[0] or bp.diastolic >= low[1]:
            return SevereBloodPressure(
                Reason("bp-severe-pregnancy", (_reading_evidence(bp),)),
                _recent(bp, record, settings),
            )
    reason = blood_pressure_reason(record, terminology, settings)
    if reason is None or reason.code != "bp-hypertensive-crisis":
        return None
    if bp is not None and any(e.reference == bp.reference for e in reason.evidence):
        return SevereBloodPressure(reason, _recent(bp, record, settings))
    dated = [e.date for e in reason.evidence if e.date]
    recent = bool(dated) and max(dated) >= record.today - timedelta(days=1)
    return SevereBloodPressure(reason, recent)


def _recent(bp: BloodPressure, record: PatientRecord, settings: ClinicalSettings) -> bool:
    if bp.timed and bp.instant is not None:
        age = record.moment - bp.instant
        return age <= timedelta(hours=settings.bp_urgent_hours)
    return bp.when >= record.today - timedelta(days=1)


def _reading_evidence(bp: BloodPressure) -> Evidence:
    return Evidence(bp.reference, f"{LOINC}|85354-9", bp.when, bp.shown())


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

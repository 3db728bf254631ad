"""An ongoing ketamine or esketamine course (design.md §7 "Course"; clinical.md A2, A4, A9).

Sessions: depression-treatment ketamine or esketamine administrations, completed requests, and
procedures for esketamine visits (HCPCS G2082/G2083); anaesthesia ketamine is ignored. Sessions
with gaps under ``course_gap_days`` form one course; the current course is shown while its last
session is within ``course_window_days``.

IV ketamine: induction of 6 infusions over about 3 weeks (3, 2, then 1), then about monthly;
  off-protocol-frequency: two infusions on one day, or more than 3 in the first 7 days.
Esketamine: twice weekly in weeks 1-4, weekly in weeks 5-8, then every 1-2 weeks (label);
  off-protocol-frequency: more than 2 sessions in any 7 days.
Response: PHQ-9 down >= 50 % from the baseline (the latest PHQ-9 within 14 days before the
first session); remission: PHQ-9 under 5 (both can hold); non-response: neither, once induction
is complete (continuing is then not advised by default; ECT or TMS are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from cds_service.clinical.findings import Evidence, Reason
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.medications import MedicationExposure
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = ["Course", "Session", "current_course"]

DEPRESSIVE_SETS = (
    "major-depressive-disorder",
    "other-depressive-disorder",
    "depressive-disorder-in-remission",
)


@dataclass(frozen=True)
class Session:
    reference: str
    when: date
    drug: str  # ketamine | esketamine
    shown: str


@dataclass(frozen=True)
class Course:
    drug: str
    sessions: tuple[Session, ...]
    baseline: Reading | None
    latest: Reading | None
    induction_complete: bool
    next_due: date | None
    reasons: tuple[Reason, ...]

    @property
    def week(self) -> int:
        return (self.sessions[-1].when - self.sessions[0].when).days // 7 + 1


def _depression_ketamine(
    exposure: MedicationExposure,
    record: PatientRecord,
    terminology: Terminology,
    settings: ClinicalSettings,
) -> bool:
    sets = [terminology.valueset(v) for v in DEPRESSIVE_SETS]
    conditions = {c.reference: c for c in record.conditions}
    requests = {
        e.reference: e for e in record.medications if e.resource_type == "MedicationRequest"
    }

    def depressive(item: MedicationExposure) -> bool:
        if any(vs.match(item.reason_codes) for vs in sets):
            return True
        return any(
            (condition := conditions.get("/".join(ref.split("/_history")[0].split("/")[-2:])))
            is not None
            and any(vs.match(condition.codes) for vs in sets)
            for ref in item.reason_references
        )

    request = requests.get(exposure.request_reference or "")
    if depressive(exposure) or (request is not None and depressive(request)):
        return True
    if exposure.reason_codes or exposure.reason_references:
        return False  # given for something else
    weights = [w for w in record.observations.weights if w.value]
    limit = (
        weights[-1].value * settings.treatment_max_mg_per_kg
        if weights and weights[-1].value
        else settings.treatment_max_mg_without_weight
    )
    dose = exposure.dose_mg_per_administration
    return (
        dose is not None
        and dose <= limit
        and exposure.minutes is not None
        and exposure.minutes >= settings.treatment_min_infusion_minutes
    )


def _sessions(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Session]:
    """One session per administration; a procedure or completed request counts only when no
    administration records the same session (same drug, same day, or the request it fulfils)."""
    administered: list[Session] = []
    others: list[Session] = []
    fulfilled = {e.request_reference for e in record.medications if e.request_reference}
    for exposure in record.medications:
        drug = (
            "esketamine"
            if "esketamine" in exposure.ingredients
            else "ketamine"
            if "ketamine" in exposure.ingredients
            else None
        )
        if drug is None or exposure.start is None:
            continue
        is_admin = exposure.resource_type == "MedicationAdministration"
        if not is_admin and not (
            exposure.resource_type == "MedicationRequest"
            and exposure.status == "completed"
            and exposure.reference not in fulfilled
        ):
            continue
        if drug == "ketamine" and not _depression_ketamine(exposure, record, terminology, settings):
            continue  # anaesthesia, sedation or pain
        session = Session(exposure.reference, exposure.start, drug, exposure.name)
        (administered if is_admin else others).append(session)
    visits = terminology.valueset("esketamine-administration")
    for procedure in record.procedures:
        if (
            procedure.when
            and procedure.status in (None, "completed")
            and visits.match(procedure.codes)
        ):
            others.append(
                Session(
                    procedure.reference,
                    procedure.when,
                    "esketamine",
                    procedure.text or "esketamine visit",
                )
            )
    recorded = {(s.drug, s.when) for s in administered}
    unique_others = {(s.drug, s.when): s for s in others if (s.drug, s.when) not in recorded}
    return sorted([*administered, *unique_others.values()], key=lambda s: (s.when, s.reference))


def _off_protocol(drug: str, sessions: list[Session], settings: ClinicalSettings) -> list[Session]:
    """The sessions that break the schedule's spacing."""
    if drug == "ketamine":
        days = [s.when for s in sessions]
        same_day = [s for s in sessions if days.count(s.when) > 1]
        first_week = [s for s in sessions if (s.when - sessions[0].when).days < 7]
        extra = first_week[settings.iv_first_week_max_sessions :]
        return list(dict.fromkeys(same_day + extra))
    crowded = []
    for session in sessions:
        window = [s for s in sessions if 0 <= (session.when - s.when).days < 7]
        if len(window) > settings.esketamine_max_sessions_per_7_days:
            crowded.append(session)
    return crowded


def _next_due(
    drug: str, sessions: list[Session], induction_complete: bool, settings: ClinicalSettings
) -> date:
    last, count = sessions[-1].when, len(sessions)
    if drug == "ketamine":
        if induction_complete:
            return last + timedelta(days=settings.iv_maintenance_interval_days)
        return last + timedelta(days=2 if count < 3 else 3 if count < 5 else 7)
    week = (last - sessions[0].when).days // 7 + 1
    return last + timedelta(days=3 if week <= 4 else 7 if week <= 8 else 14)


def current_course(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> Course | None:
    """The course under way, if its last session is within the window."""
    sessions = _sessions(record, terminology, settings)
    if not sessions:
        return None
    course = [sessions[0]]
    for session in sessions[1:]:
        if (session.when - course[-1].when).days >= settings.course_gap_days:
            course = []
        course.append(session)
    if (record.today - course[-1].when).days > settings.course_window_days:
        return None
    drug = course[-1].drug
    first = course[0].when
    if drug == "ketamine":
        complete = len(course) >= settings.iv_induction_sessions
        induction_end = course[settings.iv_induction_sessions - 1].when if complete else None
    else:
        complete = (record.today - first).days >= settings.esketamine_induction_days
        induction_end = first + timedelta(days=settings.esketamine_induction_days)
    baseline_from = first - timedelta(days=settings.course_baseline_days)
    # A PHQ-9 on the day of the first session is taken before it, as the protocol asks.
    before = [r for r in record.observations.phq9 if baseline_from <= r.when <= first]
    after = [r for r in record.observations.phq9 if first < r.when <= record.today]
    baseline = before[-1] if before else None
    latest = after[-1] if after else None

    def session_evidence(items: list[Session]) -> tuple[Evidence, ...]:
        return tuple(Evidence(s.reference, None, s.when, s.shown) for s in items)

    reasons = [
        Reason(
            "induction-complete" if complete else "induction-in-progress", session_evidence(course)
        )
    ]
    crowded = _off_protocol(drug, course, settings)
    if crowded:
        reasons.append(Reason("off-protocol-frequency", session_evidence(crowded)))
    if baseline and latest and baseline.value is not None and latest.value is not None:
        trend = (
            Evidence(
                baseline.reference,
                f"{LOINC}|44261-6",
                baseline.when,
                f"baseline PHQ-9 {baseline.value:g}",
            ),
            Evidence(
                latest.reference, f"{LOINC}|44261-6", latest.when, f"latest PHQ-9 {latest.value:g}"
            ),
        )
        responded = latest.value <= baseline.value * (1 - settings.phq9_response_drop)
        remitted = latest.value < settings.phq9_remission_below
        if responded:
            reasons.append(Reason("response", trend))
        if remitted:
            reasons.append(Reason("remission", trend))
        judged_after_induction = induction_end is not None and latest.when >= induction_end
        if complete and judged_after_induction and not responded and not remitted:
            reasons.append(Reason("non-response", trend))
    non_response = any(r.code == "non-response" for r in reasons)
    next_due = None if non_response else _next_due(drug, course, complete, settings)
    return Course(drug, tuple(course), baseline, latest, complete, next_due, tuple(reasons))

"""Ketamine and esketamine courses (docs/clinical-basis.md §6, §7).

Sessions
  esketamine        every administration, completed request, or G2082/G2083 visit
  IV ketamine       a depression-treatment session, recognised by, in order:
    reason          reasonCode or reasonReference (its own or its request's) names a depressive
                    disorder; any other reason (anaesthesia, sedation, pain) excludes it
    contrary        an intramuscular route, a bolus or push, a text stating another purpose
                    ("for pain", "procedural sedation"), more than 1 mg/kg (100 mg with no
                    weight), or a surgical procedure the same day excludes it
    duration        infused over 30-120 minutes: effectivePeriod, rateRatio, rateQuantity
                    (mg/h, or mL/h with a known mg/mL strength), or the dosage text
    series          a date-only session with a dose, no duration and nothing contrary counts
                    when it belongs to a series (gaps under ``course_gap_days``) holding a
                    session recognised by reason or duration
Courses
  sessions of one drug with gaps under ``course_gap_days`` (a switch between IV ketamine and
  esketamine starts a new course); the current course is shown while its last session is
  within ``course_window_days``; esketamine charted per device is one session a day
  IV ketamine: induction of 6 infusions over about 3 weeks (3, 2, then 1), then about monthly;
    off-protocol-frequency: two infusions on one day, or more than 3 in the first 7 days
  esketamine (Spravato label §2): twice weekly in weeks 1-4, weekly in weeks 5-8, then every
    1-2 weeks; off-protocol-frequency: more than 2 sessions in any 7 days
  induction complete: 6 IV infusions, or 8 esketamine sessions (twice weekly for 4 weeks)
  response: PHQ-9 down >= 50 % from the baseline (the latest PHQ-9 within 14 days before the
    first session); remission: PHQ-9 under 5 (both can hold); non-response: neither, on a PHQ-9
    taken after induction; response-unmeasured: induction complete with no PHQ-9 since
  session-overdue: the next session's due date is more than ``course_overdue_grace_days`` past
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property

from cds_service.clinical.findings import Evidence, Reason
from cds_service.clinical.orders import names_depressive_disorder
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.medications import MedicationExposure
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = ["Course", "Session", "courses", "current_course", "depressive_reason"]


@dataclass(frozen=True)
class Session:
    reference: str
    when: date
    drug: str  # ketamine | esketamine
    shown: str
    recognised_by: str  # esketamine | reason | duration | series


@dataclass(frozen=True)
class Course:
    drug: str
    sessions: tuple[Session, ...]
    baseline: Reading | None  # the PHQ-9 within course_baseline_days before session 1
    latest: Reading | None  # the latest PHQ-9 after session 1
    induction_complete: bool
    next_due: date | None
    overdue_days: int | None
    reasons: tuple[Reason, ...]
    current: bool  # the last session is within course_window_days

    def week(self, today: date) -> int:
        """The course's week as of ``today`` (week 1 starts with the first session)."""
        return (today - self.sessions[0].when).days // 7 + 1

    @property
    def start(self) -> date:
        return self.sessions[0].when

    @property
    def codes(self) -> set[str]:
        return {r.code for r in self.reasons}


def depressive_reason(
    exposure: MedicationExposure, record: PatientRecord, terminology: Terminology
) -> bool | None:
    """True when the exposure's reason (or its request's) is a depressive disorder, False when
    it states another reason, None when it states none."""
    items = [exposure]
    request = record.request(exposure.request_reference)
    if request is not None:
        items.append(request)
    if any(
        names_depressive_disorder(i.reason_codes, i.reason_references, record, terminology)
        for i in items
    ):
        return True
    return False if any(i.reason_codes or i.reason_references for i in items) else None


class _Sessions:
    """Reads the record's ketamine and esketamine sessions once per assessment."""

    def __init__(
        self, record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
    ) -> None:
        self.record = record
        self.terminology = terminology
        self.settings = settings

    @cached_property
    def surgery_days(self) -> set[date]:
        surgical = self.terminology.valueset("surgical-procedure")
        return {
            p.when
            for p in self.record.procedures
            if p.when
            and p.status in (None, "completed", "in-progress")
            and (surgical.match(p.codes) or surgical.match(p.categories))
        }

    def _limit_mg(self, when: date) -> float:
        """1 mg/kg of the latest weight on or before the session (100 mg with none)."""
        weights = [w for w in self.record.observations.weights if w.value and w.when <= when]
        weights = weights or [w for w in self.record.observations.weights if w.value]
        if weights and weights[-1].value:
            return weights[-1].value * self.settings.treatment_max_mg_per_kg
        return self.settings.treatment_max_mg_without_weight

    def _contrary(self, exposure: MedicationExposure, when: date) -> bool:
        """Signs of an anaesthetic, sedative or analgesic dose. A recorded infusion length
        outweighs the word "push" or "bolus" in the text."""
        delivery = exposure.delivery
        if delivery.intramuscular or delivery.other_purpose or when in self.surgery_days:
            return True
        if delivery.bolus and delivery.minutes is None:
            return True
        if delivery.mg_per_kg is not None:
            return delivery.mg_per_kg > self.settings.treatment_max_mg_per_kg
        dose = exposure.dose_mg_per_administration
        return dose is not None and dose > self._limit_mg(when)

    def ketamine(self, exposure: MedicationExposure, when: date) -> str | None:
        """How a ketamine session is recognised as depression treatment: ``reason``,
        ``duration`` or ``date-only`` (joins a series); None when it is not."""
        stated = depressive_reason(exposure, self.record, self.terminology)
        if stated is not None:
            return "reason" if stated else None
        if self._contrary(exposure, when):
            return None
        minutes = exposure.minutes
        settings = self.settings
        if minutes is not None:
            fits = (
                settings.treatment_min_infusion_minutes
                <= minutes
                <= settings.treatment_max_infusion_minutes
            )
            return "duration" if fits else None
        known_dose = (
            exposure.dose_mg_per_administration is not None
            or exposure.delivery.mg_per_kg is not None
        )
        return "date-only" if known_dose else None

    def all(self) -> list[Session]:
        """Every session in date order: one per administration; a procedure or completed
        request counts only when no administration records the same session."""
        record = self.record
        administered: list[Session] = []
        others: list[Session] = []
        fulfilled = {e.request_reference for e in record.medications if e.request_reference}
        for exposure in record.medications:
            ingredients = exposure.ingredients
            drug = (
                "esketamine"
                if "esketamine" in ingredients
                else "ketamine"
                if "ketamine" in ingredients
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
            how = "esketamine" if drug == "esketamine" else self.ketamine(exposure, exposure.start)
            if how is None:
                continue
            session = Session(exposure.reference, exposure.start, drug, exposure.name, how)
            (administered if is_admin else others).append(session)
        visits = self.terminology.valueset("esketamine-administration")
        for procedure in record.procedures:
            if (
                procedure.when
                and procedure.status in (None, "completed")
                and visits.match(procedure.codes)
            ):
                shown = procedure.text or "esketamine visit"
                others.append(
                    Session(procedure.reference, procedure.when, "esketamine", shown, "esketamine")
                )
        # Esketamine is given as 28 mg devices 5 minutes apart: one visit, charted per device,
        # is one session. Two IV infusions on one day stay two (off-protocol-frequency).
        visit_days: set[date] = set()
        kept = []
        for s in administered:
            if s.drug == "esketamine":
                if s.when in visit_days:
                    continue
                visit_days.add(s.when)
            kept.append(s)
        administered = kept
        recorded = {(s.drug, s.when) for s in administered}
        unique_others = {(s.drug, s.when): s for s in others if (s.drug, s.when) not in recorded}
        everything = sorted(
            [*administered, *unique_others.values()], key=lambda s: (s.when, s.reference)
        )
        return _join_series(everything, self.settings.course_gap_days)


def _join_series(sessions: list[Session], gap_days: int) -> list[Session]:
    """Keep the date-only ketamine sessions whose series holds a recognised one."""
    kept: list[Session] = []
    series: list[Session] = []

    def close() -> None:
        anchored = any(s.recognised_by in ("reason", "duration") for s in series)
        kept.extend(
            replace(s, recognised_by="series") if s.recognised_by == "date-only" else s
            for s in series
            if anchored or s.recognised_by != "date-only"
        )

    ketamine = [s for s in sessions if s.drug == "ketamine"]
    for session in ketamine:
        if series and (session.when - series[-1].when).days >= gap_days:
            close()
            series = []
        series.append(session)
    close()
    kept += [s for s in sessions if s.drug == "esketamine"]
    return sorted(kept, key=lambda s: (s.when, s.reference))


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
    days = (last - sessions[0].when).days  # twice weekly, then weekly for as long, then 2-weekly
    induction = settings.esketamine_induction_days
    return last + timedelta(days=3 if days < induction else 7 if days < 2 * induction else 14)


def _phq9_evidence(reading: Reading, label: str) -> Evidence:
    return Evidence(
        reading.reference, f"{LOINC}|44261-6", reading.when, f"{label} {reading.value:g}"
    )


def _course(sessions: list[Session], record: PatientRecord, settings: ClinicalSettings) -> Course:
    today = record.today
    drug = sessions[-1].drug
    first = sessions[0].when
    if drug == "ketamine":
        complete = len(sessions) >= settings.iv_induction_sessions
        induction_end = sessions[settings.iv_induction_sessions - 1].when if complete else None
    else:
        complete = len(sessions) >= settings.esketamine_induction_sessions
        induction_end = (
            sessions[settings.esketamine_induction_sessions - 1].when if complete else None
        )
    phq9 = record.observations.phq9
    # A PHQ-9 on the day of the first session is taken before it, as the protocol asks.
    baseline_from = first - timedelta(days=settings.course_baseline_days)
    baseline = next((r for r in reversed(phq9) if baseline_from <= r.when <= first), None)
    latest = next((r for r in reversed(phq9) if first < r.when <= today), None)

    def session_evidence(items: list[Session]) -> tuple[Evidence, ...]:
        return tuple(Evidence(s.reference, None, s.when, s.shown) for s in items)

    reasons = [
        Reason(
            "induction-complete" if complete else "induction-in-progress",
            session_evidence(sessions),
        )
    ]
    crowded = _off_protocol(drug, sessions, settings)
    if crowded:
        reasons.append(Reason("off-protocol-frequency", session_evidence(crowded)))
    non_response = False
    if baseline and latest and baseline.value is not None and latest.value is not None:
        trend = (
            _phq9_evidence(baseline, "PHQ-9 before the course"),
            _phq9_evidence(latest, "latest PHQ-9"),
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
            non_response = True
    if (
        complete
        and baseline
        and not non_response
        and not (latest and induction_end and latest.when >= induction_end)
    ):
        reasons.append(
            Reason(
                "response-unmeasured",
                (_phq9_evidence(baseline, "PHQ-9 before the course"),),
            )
        )
    next_due = None if non_response else _next_due(drug, sessions, complete, settings)
    overdue = None
    if next_due is not None:
        late = (today - next_due).days
        if late > settings.course_overdue_grace_days:
            overdue = late
            last = sessions[-1]
            reasons.append(
                Reason(
                    "session-overdue",
                    (
                        Evidence(
                            last.reference,
                            None,
                            last.when,
                            f"next session was due {next_due.isoformat()}",
                        ),
                    ),
                )
            )
    current = (today - sessions[-1].when).days <= settings.course_window_days
    return Course(
        drug,
        tuple(sessions),
        baseline,
        latest,
        complete,
        next_due,
        overdue,
        tuple(reasons),
        current,
    )


def courses(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Course]:
    """Every course on record, oldest first; a session on or before today only."""
    sessions = [s for s in _Sessions(record, terminology, settings).all() if s.when <= record.today]
    found: list[list[Session]] = []
    for session in sessions:
        previous = found[-1][-1] if found else None
        if (
            previous is None
            or previous.drug != session.drug
            or (session.when - previous.when).days >= settings.course_gap_days
        ):
            found.append([])
        found[-1].append(session)
    return [_course(group, record, settings) for group in found]


def current_course(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> Course | None:
    """The course under way, if its last session is within the window."""
    found = courses(record, terminology, settings)
    return found[-1] if found and found[-1].current else None

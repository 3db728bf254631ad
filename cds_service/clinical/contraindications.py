"""Contraindications, exclusions and cautions (docs/clinical-basis.md §3).

Sources: SPRAVATO prescribing information §4 (aneurysmal vascular disease, AVM, intracerebral
hemorrhage, hypersensitivity), §5.2 (psychosis), §5.4 (abuse and misuse), §8.1 (pregnancy),
§8.2 (lactation), §8.6 (hepatic impairment); the seed's "who should avoid" list (blood pressure,
cardiovascular disease, stroke, psychosis, liver damage, pregnancy, active substance use, prior
adverse effects); APA consensus 2017.

When  ketamine/esketamine is ordered or under consideration
Then  any history of aneurysm                    -> aneurysmal-vascular-disease (label §4)
      any history of AVM                         -> arteriovenous-malformation (label §4)
      any history of ICH                         -> intracerebral-hemorrhage-history (label §4)
      AllergyIntolerance to ketamine/esketamine  -> ketamine-hypersensitivity (label §4; an
                                                    ICD code that names no drug is not enough)
      pregnant: an active pregnancy Condition (dated within 300 days or undated), pregnancy
      status "pregnant" within 90 days, or a positive hCG within 30 days, unless a later
      negative result or a delivery supersedes it
                                                 -> pregnancy (the service's hard stop; label
                                                    §8.1 does not recommend use)
      an active lactation Condition              -> lactation (caution: advise against
                                                    breastfeeding, label §8.2)
      a delivery within 6 weeks                  -> postpartum (information: ask about
                                                    breastfeeding; decides nothing)
      any history of psychosis                   -> psychosis-history
      MDD with psychotic features on record      -> psychotic-features
      active substance use disorder              -> active-substance-use
      substance use disorder in remission        -> substance-use-in-remission (caution)
      any history of ischaemic stroke or TIA     -> stroke-history
      subdural, extradural, other intracranial hemorrhage (not in the label)
                                                 -> other-intracranial-hemorrhage
      active cirrhosis, hepatic failure, hepatic encephalopathy, hepatorenal syndrome,
      portal hypertension or varices             -> liver-disease (not-recommended: confirm
                                                    the Child-Pugh class, label §8.6)
      other active liver disease                 -> liver-disease-other (caution)
      active fatty liver                         -> fatty-liver-disease (caution)
      active acute cardiovascular disease; MI or ACS only within 90 days
                                                 -> uncontrolled-cardiovascular-disease
      bipolar disorder in any status             -> bipolar-disorder
"""

from __future__ import annotations

from datetime import date, timedelta

from cds_service.clinical.findings import Evidence, Reason, condition_evidence
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.observations import Reading
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import LOINC, Terminology

__all__ = ["contraindications", "pregnant_or_postpartum"]

_HISTORY_RULES = [  # (value set, reason): any clinical status counts
    ("aneurysmal-vascular-disease", "aneurysmal-vascular-disease"),
    ("arteriovenous-malformation", "arteriovenous-malformation"),
    ("intracerebral-hemorrhage", "intracerebral-hemorrhage-history"),
    ("psychotic-disorder", "psychosis-history"),
    ("mdd-psychotic-features", "psychotic-features"),
    ("ischemic-stroke", "stroke-history"),
    ("other-intracranial-hemorrhage", "other-intracranial-hemorrhage"),
    ("bipolar-disorder", "bipolar-disorder"),
]
_ACTIVE_RULES = [  # (value set, reason): active conditions only
    ("liver-disease", "liver-disease"),
    ("liver-disease-other", "liver-disease-other"),
    ("fatty-liver", "fatty-liver-disease"),
    ("lactation", "lactation"),
]
_ACUTE_MI_PREFIXES = ("I21", "I22", "I23", "I24", "57054005")
REMISSION_STATUSES = {"remission", "inactive", "resolved"}


def contraindications(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Reason]:
    """Every contraindication, exclusion and condition-based caution, with evidence."""
    reasons: list[Reason] = []
    for vs_id, code in _HISTORY_RULES:
        hits = record.conditions_in(terminology.valueset(vs_id))
        if hits:
            reasons.append(Reason(code, tuple(condition_evidence(c, m) for c, m in hits)))
    for vs_id, code in _ACTIVE_RULES:
        hits = record.conditions_in(terminology.valueset(vs_id), active_only=True)
        if hits:
            reasons.append(Reason(code, tuple(condition_evidence(c, m) for c, m in hits)))
    reasons += _substance_use(record, terminology)
    reasons += _cardiovascular(record, terminology, settings)
    reasons += _pregnancy(record, terminology, settings)
    reasons += _postpartum(record, terminology, settings)
    reasons += _hypersensitivity(record, terminology)
    return reasons


def _postpartum(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Reason]:
    """A delivery within ``postpartum_days``: ask about breastfeeding unless lactation is on
    record; the BP thresholds of pregnancy apply."""
    since = record.today - timedelta(days=settings.postpartum_days)
    evidence = [
        condition_evidence(c, code)
        for c, code in record.conditions_in(terminology.valueset("postpartum"))
        if c.date is not None and since <= c.date <= record.today
    ]
    return [Reason("postpartum", tuple(evidence))] if evidence else []


def pregnant_or_postpartum(reasons: list[Reason]) -> bool:
    """Whether the pregnancy thresholds for blood pressure apply (ACOG Committee Opinion 767)."""
    return any(r.code in ("pregnancy", "postpartum") for r in reasons)


def _substance_use(record: PatientRecord, terminology: Terminology) -> list[Reason]:
    active, remission = [], []
    for condition, code in record.conditions_in(
        terminology.valueset("substance-use-disorder-active")
    ):
        if condition.active:
            active.append(condition_evidence(condition, code))
        elif condition.clinical_status in REMISSION_STATUSES:
            remission.append(condition_evidence(condition, code))
    for condition, code in record.conditions_in(
        terminology.valueset("substance-use-disorder-in-remission")
    ):
        remission.append(condition_evidence(condition, code))
    out = []
    if active:
        out.append(Reason("active-substance-use", tuple(active)))
    if remission:
        out.append(Reason("substance-use-in-remission", tuple(remission)))
    return out


def _cardiovascular(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Reason]:
    since = record.today - timedelta(days=settings.acute_cardiovascular_window_days)
    evidence = []
    for condition, code in record.conditions_in(
        terminology.valueset("acute-cardiovascular-disease"), active_only=True
    ):
        is_mi = code.code.replace(".", "").upper().startswith(_ACUTE_MI_PREFIXES)
        # An active MI with no date is counted: it cannot be shown to be older than 90 days.
        if not is_mi or condition.date is None or condition.date >= since:
            evidence.append(condition_evidence(condition, code))
    return [Reason("uncontrolled-cardiovascular-disease", tuple(evidence))] if evidence else []


def _reading_evidence(reading: Reading) -> Evidence:
    return Evidence(reading.reference, f"{LOINC}|{reading.code}", reading.when, reading.shown())


def _pregnancy(
    record: PatientRecord, terminology: Terminology, settings: ClinicalSettings
) -> list[Reason]:
    """Pregnant unless a later negative hCG or 'not pregnant' status, or a delivery, supersedes
    the evidence. Codes recorded on the day of the delivery (weeks of gestation, the delivery's
    own O-codes) belong to it, and an undated code cannot be shown to be newer than it."""
    today = record.today
    obs = record.observations
    positives: list[tuple[Evidence, date | None]] = []
    condition_since = today - timedelta(days=settings.pregnancy_condition_window_days)
    for condition, code in record.conditions_in(
        terminology.valueset("pregnancy"), active_only=True
    ):
        if condition.date is None or condition.date >= condition_since:
            positives.append((condition_evidence(condition, code), condition.date))
    status_since = today - timedelta(days=settings.pregnancy_status_window_days)
    hcg_since = today - timedelta(days=settings.hcg_window_days)
    positives += [
        (_reading_evidence(r), r.when)
        for r in obs.pregnancy_status
        if r.value == 1 and status_since <= r.when <= today
    ]
    positives += [
        (_reading_evidence(r), r.when)
        for r in obs.hcg
        if r.value == 1 and hcg_since <= r.when <= today
    ]
    negatives = [
        r.when for r in (*obs.pregnancy_status, *obs.hcg) if r.value == 0 and r.when <= today
    ]
    latest_negative = max(negatives) if negatives else None
    deliveries = [
        c.date
        for c, _ in record.conditions_in(terminology.valueset("postpartum"))
        if c.date is not None and c.date <= today
    ]
    delivered = max(deliveries) if deliveries else None
    current = [
        ev
        for ev, when in positives
        if (latest_negative is None or when is None or when >= latest_negative)
        and (delivered is None or (when is not None and when > delivered))
    ]
    return [Reason("pregnancy", tuple(current))] if current else []


def _hypersensitivity(record: PatientRecord, terminology: Terminology) -> list[Reason]:
    """An allergy to ketamine or esketamine by substance, ingredient, product, NDC or name."""
    substances = terminology.valueset("ketamine-substance")
    evidence = []
    for allergy in record.allergies:
        code = substances.match(allergy.codes)
        named = terminology.recognise(allergy.codes, [allergy.text]).ingredients
        if code or {"ketamine", "esketamine"} & set(named):
            shown = code or next((c for c in allergy.codes), None)
            evidence.append(
                Evidence(
                    allergy.reference,
                    shown.token() if shown else None,
                    allergy.recorded,
                    (shown.display if shown and shown.display else None)
                    or allergy.text
                    or ", ".join(named),
                )
            )
    return [Reason("ketamine-hypersensitivity", tuple(evidence))] if evidence else []

"""PatientRecord: the typed, read-only view of a patient that the clinical rules read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import cached_property
from typing import Any

from cds_service.protocol.fhirjson import as_dict, as_list
from cds_service.record.medications import MedicationExposure, exposures_from
from cds_service.record.observations import Observations, read_observations
from cds_service.record.terminology import Code, Terminology, ValueSet
from cds_service.record.values import codes_of, parse_date, reference, reference_tail, text_of

__all__ = ["AllergyFact", "ConditionFact", "PatientRecord", "ProcedureFact"]

ACTIVE_STATUSES = {"active", "recurrence", "relapse"}
IGNORED_VERIFICATION = {"entered-in-error", "refuted"}
MEDICATION_TYPES = ("MedicationRequest", "MedicationStatement", "MedicationAdministration")


def _status(concept: Any) -> str | None:
    """The first code of a status CodeableConcept: ``codes_of(concept)[0].code``, without
    building the Codes."""
    concept = as_dict(concept)
    codings = as_list(concept.get("coding")) if "coding" in concept else [concept]
    for coding in codings:
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, (str, int)):
            text = str(code).strip()
            if text:
                return text
    return None


@dataclass(frozen=True)
class ConditionFact:
    reference: str
    codes: tuple[Code, ...]
    text: str | None
    clinical_status: str | None
    verification_status: str | None
    onset: date | None
    abatement: date | None
    recorded: date | None

    @property
    def active(self) -> bool:
        """Active, recurrence or relapse; with no status at all, active unless abated."""
        if self.clinical_status is None:
            return self.abatement is None
        return self.clinical_status in ACTIVE_STATUSES

    @property
    def date(self) -> date | None:
        return self.onset or self.recorded

    @property
    def name(self) -> str:
        return (
            self.text
            or next((c.display for c in self.codes if c.display), None)
            or (self.codes[0].code if self.codes else "condition")
        )


@dataclass(frozen=True)
class AllergyFact:
    reference: str
    codes: tuple[Code, ...]
    text: str | None
    clinical_status: str | None
    verification_status: str | None
    recorded: date | None


@dataclass(frozen=True)
class ProcedureFact:
    reference: str
    codes: tuple[Code, ...]
    text: str | None
    status: str | None
    when: date | None
    categories: tuple[Code, ...] = ()


@dataclass(frozen=True)
class PatientRecord:
    """What the record says about one patient, as of ``today``."""

    patient_id: str | None
    birth_date: date | None
    sex: str | None
    today: date
    conditions: tuple[ConditionFact, ...]
    medications: tuple[MedicationExposure, ...]
    observations: Observations
    allergies: tuple[AllergyFact, ...]
    procedures: tuple[ProcedureFact, ...]
    now: datetime | None = None  # the moment of the request, when the caller knows it

    @property
    def moment(self) -> datetime:
        """The request's moment; the end of ``today`` (UTC) when it was not given."""
        return self.now or datetime.combine(self.today, time.max, tzinfo=UTC)

    @property
    def age(self) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return (
            self.today.year
            - born.year
            - ((self.today.month, self.today.day) < (born.month, born.day))
        )

    def conditions_in(
        self, valueset: ValueSet, *, active_only: bool = False
    ) -> list[tuple[ConditionFact, Code]]:
        """Conditions with a coding in ``valueset``, each with the coding that matched, in
        record order."""
        hits = self._valueset_hits.get(valueset.id)
        if hits is None:
            found: list[tuple[int, ConditionFact, Code]] = []
            for group, (codes, conditions) in enumerate(self._conditions_by_codes.items()):
                first = self._first_codes[group]
                if first is None:
                    first = self._first_codes[group] = valueset.index.first_codes(codes)
                code = first.get(valueset.id)
                if code is not None:
                    found += [(i, c, code) for i, c in conditions]
            hits = [(c, code) for _, c, code in sorted(found, key=lambda hit: hit[0])]
            self._valueset_hits[valueset.id] = hits
        return [(c, code) for c, code in hits if c.active or not active_only]

    @cached_property
    def _valueset_hits(self) -> dict[str, list[tuple[ConditionFact, Code]]]:
        """conditions_in by value-set id: the rules ask about some sets several times."""
        return {}

    @cached_property
    def _first_codes(self) -> list[dict[str, Code] | None]:
        """For each group of _conditions_by_codes, the first coding in each value set: one pass
        over the codings however many value sets the rules ask about. By position, since
        hashing a tuple of codings again costs as much as reading it."""
        return [None] * len(self._conditions_by_codes)

    @cached_property
    def _conditions_by_reference(self) -> dict[str, ConditionFact]:
        return {c.reference: c for c in self.conditions}

    def condition(self, reference: str) -> ConditionFact | None:
        """The Condition a relative or absolute reference names, if the record holds it."""
        return self._conditions_by_reference.get(reference_tail(reference) or "")

    @cached_property
    def _requests(self) -> dict[str, MedicationExposure]:
        return {e.reference: e for e in self.medications if e.resource_type == "MedicationRequest"}

    def request(self, reference: str | None) -> MedicationExposure | None:
        """The MedicationRequest with this ``Type/id``, if the record holds it."""
        return self._requests.get(reference) if reference else None

    @cached_property
    def _conditions_by_codes(self) -> dict[tuple[Code, ...], list[tuple[int, ConditionFact]]]:
        """Conditions grouped by their codings: a chart repeats a few codes many times, and
        the rules ask about a dozen value sets."""
        groups: dict[tuple[Code, ...], list[tuple[int, ConditionFact]]] = {}
        for index, condition in enumerate(self.conditions):
            groups.setdefault(condition.codes, []).append((index, condition))
        return groups

    @classmethod
    def from_resources(
        cls,
        resources: Iterable[dict[str, Any]],
        *,
        today: date,
        terminology: Terminology,
        patient_id: str | None = None,
        now: datetime | None = None,
    ) -> PatientRecord:
        """Build the record from FHIR R4 resources of any of the prefetched types."""
        by_type: dict[str, list[dict[str, Any]]] = {}
        for resource in resources:
            if isinstance(resource, dict) and isinstance(resource.get("resourceType"), str):
                by_type.setdefault(resource["resourceType"], []).append(resource)
        return cls.from_grouped(
            by_type, today=today, terminology=terminology, patient_id=patient_id, now=now
        )

    @classmethod
    def from_grouped(
        cls,
        by_type: dict[str, list[dict[str, Any]]],
        *,
        today: date,
        terminology: Terminology,
        patient_id: str | None = None,
        now: datetime | None = None,
    ) -> PatientRecord:
        """``from_resources`` for resources already grouped by their ``resourceType``."""
        patients = by_type.get("Patient", [])
        patient = next((p for p in patients if p.get("id") == patient_id), None) or (
            patients[0] if patients else {}
        )
        medications_by_ref = {reference(m): m for m in by_type.get("Medication", [])}
        exposures = []
        for rtype in MEDICATION_TYPES:
            for resource in by_type.get(rtype, []):
                exposures += exposures_from(resource, terminology, medications_by_ref, today)
        gender = patient.get("gender")
        return cls(
            patient_id=patient_id
            or (patient.get("id") if isinstance(patient.get("id"), str) else None),
            birth_date=parse_date(patient.get("birthDate")),
            sex=gender if isinstance(gender, str) else None,
            today=today,
            conditions=tuple(c for c in map(_condition, by_type.get("Condition", [])) if c),
            medications=tuple(exposures),
            observations=read_observations(by_type.get("Observation", [])),
            allergies=tuple(a for a in map(_allergy, by_type.get("AllergyIntolerance", [])) if a),
            procedures=tuple(map(_procedure, by_type.get("Procedure", []))),
            now=now,
        )


def _condition(resource: dict[str, Any]) -> ConditionFact | None:
    verification = _status(resource.get("verificationStatus"))
    if verification in IGNORED_VERIFICATION:
        return None
    onset = parse_date(resource.get("onsetDateTime")) or parse_date(
        as_dict(resource.get("onsetPeriod")).get("start")
    )
    abatement = parse_date(resource.get("abatementDateTime")) or parse_date(
        as_dict(resource.get("abatementPeriod")).get("end")
    )
    codes = codes_of(resource.get("code"))
    return ConditionFact(
        reference=reference(resource),
        codes=tuple(codes),
        text=text_of(resource.get("code"), codes),
        clinical_status=_status(resource.get("clinicalStatus")),
        verification_status=verification,
        onset=onset,
        abatement=abatement,
        recorded=parse_date(resource.get("recordedDate")),
    )


def _allergy(resource: dict[str, Any]) -> AllergyFact | None:
    verification = _status(resource.get("verificationStatus"))
    if verification in IGNORED_VERIFICATION:
        return None
    codes = codes_of(resource.get("code"))
    texts = [text_of(resource.get("code"))]
    for reaction in as_list(resource.get("reaction")):
        codes += codes_of(as_dict(reaction).get("substance"))
        texts.append(text_of(as_dict(reaction).get("substance")))
    return AllergyFact(
        reference=reference(resource),
        codes=tuple(codes),
        text="; ".join(t for t in texts if t) or None,
        clinical_status=_status(resource.get("clinicalStatus")),
        verification_status=verification,
        recorded=parse_date(resource.get("recordedDate"))
        or parse_date(resource.get("onsetDateTime")),
    )


def _procedure(resource: dict[str, Any]) -> ProcedureFact:
    codes = codes_of(resource.get("code"))
    return ProcedureFact(
        reference=reference(resource),
        codes=tuple(codes),
        text=text_of(resource.get("code"), codes),
        status=resource.get("status") if isinstance(resource.get("status"), str) else None,
        when=parse_date(resource.get("performedDateTime"))
        or parse_date(as_dict(resource.get("performedPeriod")).get("start")),
        categories=tuple(codes_of(resource.get("category"))),
    )

"""Fixtures are valid FHIR R4 with real code systems, and the request files stay in sync."""

from __future__ import annotations

import json

import pytest
from fhir.resources.R4B import get_fhir_model_class

from tests.builders import FIXTURES, hook_request, patient_bundle

SYSTEMS = {
    "http://hl7.org/fhir/sid/icd-10-cm",
    "http://snomed.info/sct",
    "http://loinc.org",
    "http://www.nlm.nih.gov/research/umls/rxnorm",
    "http://unitsofmeasure.org",
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "http://terminology.hl7.org/CodeSystem/condition-category",
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
    "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
    "https://ketamine-cds.org/fhir/CodeSystem/fixture",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
    "http://www.ama-assn.org/go/cpt",
}
PATIENT_FILES = sorted((FIXTURES / "patients").glob("*.json"))
REQUEST_FILES = sorted((FIXTURES / "requests").rglob("*.json"))
SANDBOX_FILES = sorted((FIXTURES / "requests").glob("sandbox-*.json"))


def codings(value):
    if isinstance(value, dict):
        if "system" in value and "code" in value:
            yield value
        for item in value.values():
            yield from codings(item)
    elif isinstance(value, list):
        for item in value:
            yield from codings(item)


@pytest.mark.parametrize("path", PATIENT_FILES + REQUEST_FILES, ids=lambda p: p.name)
def test_every_resource_validates_as_fhir_r4(path) -> None:
    document = json.loads(path.read_text())
    if "resourceType" in document:
        resources = [document]
    else:  # a hook request; its draftOrders Bundle has no type, as the Sandbox sends it
        drafts = document["context"].get("draftOrders", {}).get("entry", [])
        resources = [v for v in document["prefetch"].values() if v]
        resources += [entry["resource"] for entry in drafts]
    for resource in resources:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


@pytest.mark.parametrize("path", PATIENT_FILES + REQUEST_FILES, ids=lambda p: p.name)
def test_codes_use_known_code_systems(path) -> None:
    unknown = {c["system"] for c in codings(json.loads(path.read_text()))} - SYSTEMS
    assert not unknown


@pytest.mark.parametrize("path", SANDBOX_FILES, ids=lambda p: p.name)
def test_request_files_match_the_builders(path) -> None:
    stored = json.loads(path.read_text())
    built = hook_request(stored["hook"], patient_bundle(), hookInstance=stored["hookInstance"])
    assert stored == built, "regenerate fixtures/requests from tests/builders.py"

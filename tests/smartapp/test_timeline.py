"""The view's timeline and chart agree with the cards, for every fixture patient."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date
from typing import Any

import pytest

from cds_service.clinical.assessment import assess
from cds_service.clinical.settings import ClinicalSettings
from cds_service.record.record import PatientRecord
from cds_service.record.terminology import default_terminology
from cds_service.smartapp.charts import describe, timeline_svg
from cds_service.smartapp.timeline import timeline
from tests.builders import FIXTURES, hook_request, patient_id
from tests.conftest import NOW

PATIENTS = sorted(p.stem for p in (FIXTURES / "patients").glob("*.json"))
SVG = "{http://www.w3.org/2000/svg}"
EXTENSION = "org.ketamine-cds.assessment"


def view_of(bundle: dict[str, Any]) -> Any:
    settings = ClinicalSettings()
    terminology = default_terminology()
    record = PatientRecord.from_resources(
        [e["resource"] for e in bundle["entry"]],
        today=NOW.date(),
        now=NOW,
        terminology=terminology,
        patient_id=patient_id(bundle),
    )
    assessment = assess(record, terminology, settings)
    return record, assessment, timeline(assessment, settings)


@pytest.mark.parametrize("name", PATIENTS)
def test_the_timeline_agrees_with_the_cards(client, name: str) -> None:
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    record, assessment, view = view_of(bundle)
    cards = client.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view", bundle)
    ).json["cards"]
    decisions = {
        c["extension"][EXTENSION]["decision"] for c in cards if EXTENSION in c.get("extension", {})
    }
    assert decisions <= {assessment.decision}
    carded = [
        c["extension"][EXTENSION]["trials"]
        for c in cards
        if "trials" in c["extension"].get(EXTENSION, {})
    ]
    dated = [t for t in assessment.trd.trials if t.start is not None]
    for trials in carded:
        shown = [t for t in trials if t.get("start")]
        assert [t["medication"] for t in shown] == [trial.ingredient for trial in dated]
        assert [trial.medication for trial in dated] == [bar.medication for bar in view.trials]
        assert [t["start"] for t in shown] == [bar.start.isoformat() for bar in view.trials]
        assert [t["status"] == "adequate-failed" for t in shown] == [b.counted for b in view.trials]
    assert len(view.trials) == len(dated)
    assert [p.value for p in view.phq9] == [
        r.value
        for r in sorted(record.observations.phq9, key=lambda r: r.when)
        if r.value is not None
    ]
    if assessment.course:
        assert view.sessions == tuple(s.when for s in assessment.course.sessions)


@pytest.mark.parametrize("name", PATIENTS)
def test_the_chart_draws_every_value_with_a_text_alternative(name: str) -> None:
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    _, _, view = view_of(bundle)
    svg = ET.fromstring(timeline_svg(view))
    assert svg.find(f"{SVG}title").text.startswith("Antidepressant trials")
    assert svg.find(f"{SVG}desc").text == describe(view)
    phq9 = [
        float(c.get("data-value")) for c in svg.iter(f"{SVG}circle") if c.get("class") == "phq9"
    ]
    assert phq9 == [p.value for p in view.phq9]
    systolic = [
        float(c.get("data-value")) for c in svg.iter(f"{SVG}circle") if c.get("class") == "systolic"
    ]
    assert systolic == [bp.systolic for bp in view.blood_pressures]
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "trial"]
    assert [b.get("data-counted") == "true" for b in bars] == [t.counted for t in view.trials]
    lines = {
        int(line.get("data-value"))
        for line in svg.iter(f"{SVG}line")
        if line.get("class") == "bp-line"
    }
    assert lines == {140, 90, 160, 100}


def test_a_course_has_its_sessions_and_the_response_line() -> None:
    courses = []
    for name in PATIENTS:
        bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
        _, assessment, view = view_of(bundle)
        if assessment.course and assessment.course.baseline:
            courses.append((assessment, view))
    assert courses, "the fixtures must include a course with a baseline PHQ-9"
    for assessment, view in courses:
        baseline = assessment.course.baseline.value
        assert view.response_at == pytest.approx(baseline / 2)
        svg = ET.fromstring(timeline_svg(view))
        marks = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "session"]
        assert len(marks) == len(assessment.course.sessions)
        assert [line for line in svg.iter(f"{SVG}line") if line.get("class") == "response-line"]


def test_text_from_the_record_is_escaped() -> None:
    bundle = json.loads((FIXTURES / "patients" / "candidate-two-failed-trials.json").read_text())
    _, _, view = view_of(bundle)
    from dataclasses import replace

    hostile = replace(
        view, trials=tuple(replace(t, medication="<script>x</script> & co") for t in view.trials)
    )
    text = timeline_svg(hostile)
    assert "<script>" not in text
    ET.fromstring(text)  # still well-formed
    assert date.today() >= view.end


@pytest.mark.parametrize("augmentation_counts", [False, True])
def test_an_augmenting_drug_is_drawn_as_the_trd_rule_counts_it(augmentation_counts: bool) -> None:
    from dataclasses import replace

    bundle = json.loads((FIXTURES / "patients" / "candidate-two-failed-trials.json").read_text())
    _, assessment, _ = view_of(bundle)
    first = replace(assessment.trd.trials[0], augmenter=True)
    trd = replace(assessment.trd, trials=(first, *assessment.trd.trials[1:]))
    settings = ClinicalSettings(augmentation_counts_as_trial=augmentation_counts)
    view = timeline(replace(assessment, trd=trd), settings)
    assert first.status == "adequate-failed"
    assert view.trials[0].counted is augmentation_counts
    assert view.trials[1].counted


def test_trials_without_dates_are_counted_in_the_chart_text() -> None:
    from dataclasses import replace

    bundle = json.loads((FIXTURES / "patients" / "candidate-two-failed-trials.json").read_text())
    _, assessment, _ = view_of(bundle)
    undated = replace(assessment.trd.trials[0], start=None)
    trd = replace(assessment.trd, trials=(*assessment.trd.trials, undated))
    view = timeline(replace(assessment, trd=trd), ClinicalSettings())
    assert view.undated_trials == 1
    assert "2 dated antidepressant trials (1 more without dates)" in describe(view)

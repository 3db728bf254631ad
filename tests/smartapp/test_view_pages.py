"""The view, launched for every fixture patient, shows the numbers the cards carry."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.clinical.settings import ClinicalSettings
from cds_service.config import Settings
from cds_service.fhirserver import FhirStore, create_fhir_app
from cds_service.services.common import capital
from cds_service.services.trd_text import needed_items
from tests.builders import FIXTURES, hook_request, patient_id
from tests.conftest import NOW
from tests.smartapp.conftest import CLIENT_ID, serve, sign_in
from tests.smartapp.test_timeline import EXTENSION, PATIENTS, SVG, view_of


@pytest.fixture(scope="module")
def fhir_base(store: FhirStore) -> Iterator[str]:
    yield from serve(create_fhir_app(store, smart=True))


@pytest.fixture(scope="module")
def view_app(fhir_base: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One service for every fixture: each test signs in afresh, for its own patient."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("pages") / "data",
        auth_enabled=False,
        smart_clients={fhir_base: {"client_id": CLIENT_ID}},
        fhir_server_allowlist=[fhir_base],
        fhir_allow_http_loopback=True,
    )
    app = create_app(settings, clock=lambda: NOW)
    yield app
    app.extensions["ketamine_cds"].db.dispose()


def svg_of(page: str) -> ET.Element:
    match = re.search(r"<svg.*?</svg>", page, re.S)
    assert match, "the view has no chart"
    return ET.fromstring(match.group(0))


def values(svg: ET.Element, tag: str, css: str, attribute: str = "data-value") -> list[str]:
    return [e.get(attribute, "") for e in svg.iter(f"{SVG}{tag}") if e.get("class") == css]


@pytest.mark.parametrize("name", PATIENTS)
def test_the_view_agrees_with_the_cards(view_app: Flask, fhir_base: str, name: str) -> None:
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    pid = patient_id(bundle)
    client = view_app.test_client()
    callback = sign_in(client, fhir_base, pid)
    assert callback.status_code == 303
    response = client.get(callback.headers["Location"])
    assert response.status_code == 200, name
    page = response.get_data(as_text=True)
    svg = svg_of(page)

    _, assessment, expected = view_of(bundle)
    assert [float(v) for v in values(svg, "circle", "phq9")] == [p.value for p in expected.phq9]
    assert [float(v) for v in values(svg, "circle", "systolic")] == [
        bp.systolic for bp in expected.blood_pressures
    ]
    assert len(values(svg, "rect", "session", "x")) == len(expected.sessions)

    cards = client.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view", bundle)
    ).json["cards"]
    text = html.unescape(re.sub(r"\s+", " ", page))
    for card in cards:
        assert card["summary"] in text, name
    assessed = [c["extension"][EXTENSION] for c in cards if EXTENSION in c.get("extension", {})]
    for extension in assessed:
        assert extension["decision"] == assessment.decision
        if "trials" not in extension:
            continue
        trials = [t for t in extension["trials"] if t.get("start")]
        counted = [t["status"] == "adequate-failed" for t in trials]
        assert values(svg, "rect", "trial", "data-counted") == [str(c).lower() for c in counted]
    missing = text.split('id="missing"', 1)[1]
    eligibility = [c for c in cards if c["source"]["topic"]["code"] == "ketamine-eligibility"]
    for item in needed_items(assessment, ClinicalSettings()):
        assert f"<li>{capital(item)}.</li>" in missing, name
        for card in eligibility:  # an indeterminate card asks for the same thing to decide
            if assessment.decision == "indeterminate":
                assert item in html.unescape(card["detail"]), name


def test_the_course_status_states_the_courses_own_numbers(view_app: Flask, fhir_base: str) -> None:
    from cds_service.clinical.settings import ClinicalSettings
    from cds_service.smartapp.summary import course_status

    bundle = json.loads((FIXTURES / "patients" / "course-iv-ketamine-responder.json").read_text())
    _, assessment, _ = view_of(bundle)
    course = assessment.course
    assert course is not None and course.baseline and course.latest
    rows = dict(course_status(assessment, ClinicalSettings(), NOW.date()))
    assert rows["Drug"] == "IV ketamine"
    assert rows["Sessions so far"].startswith(f"{len(course.sessions)}, from ")
    change = (course.latest.value - course.baseline.value) / course.baseline.value
    assert rows["Latest PHQ-9"].endswith(f"({-change:.0%} lower than baseline)")
    assert change <= -0.5  # the fixture is a responder
    assert rows["Induction"] == "complete"
    assert rows["Response and cautions"] == "Response"
    assert rows["Next session"].startswith("due ")

    client = view_app.test_client()
    view = sign_in(client, fhir_base, patient_id(bundle)).headers["Location"]
    page = html.unescape(client.get(view).get_data(as_text=True))
    for label, value in rows.items():
        assert f"<dt>{label}</dt><dd>{value}</dd>" in page


def test_missing_data_is_named_on_the_view(view_app: Flask, fhir_base: str) -> None:
    bundle = json.loads(
        (FIXTURES / "patients" / "indeterminate-no-recent-bp-or-phq9.json").read_text()
    )
    client = view_app.test_client()
    view = sign_in(client, fhir_base, patient_id(bundle)).headers["Location"]
    page = re.sub(r"\s+", " ", html.unescape(client.get(view).get_data(as_text=True)))
    missing = page.split('id="missing"', 1)[1]
    assert "<li>A blood pressure within 30 days.</li>" in missing
    assert "<li>A PHQ-9 within 30 days.</li>" in missing
    assert "Nothing the decision depends on is missing." not in missing


def test_a_course_without_a_baseline_says_what_to_record() -> None:
    from dataclasses import replace

    from cds_service.smartapp.summary import course_status, missing

    bundle = json.loads((FIXTURES / "patients" / "course-iv-ketamine-responder.json").read_text())
    _, assessment, _ = view_of(bundle)
    unmeasured = replace(assessment, course=replace(assessment.course, baseline=None))
    settings = ClinicalSettings()
    assert (
        "Record a PHQ-9 now: with none in the 14 days before the first session, the response "
        "cannot be judged." in missing(unmeasured, {}, settings)
    )
    rows = dict(course_status(unmeasured, settings, NOW.date()))
    assert rows["Baseline PHQ-9"] == "none in the 14 days before the first session"
    assert "than baseline" not in rows["Latest PHQ-9"]
    unread = missing(assessment, {"allergies": ["fhirServer answered HTTP 500"]}, settings)
    assert unread[0] == "Allergies: fhirServer answered HTTP 500."

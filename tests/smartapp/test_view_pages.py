"""The view, launched for every fixture patient, shows the numbers the cards carry."""

from __future__ import annotations

import html
import json
import re
import xml.etree.ElementTree as ET

import pytest
from flask import Flask

from tests.builders import FIXTURES, hook_request, patient_id
from tests.smartapp.conftest import FhirServer, sign_in
from tests.smartapp.test_timeline import EXTENSION, PATIENTS, SVG, view_of


def svg_of(page: str) -> ET.Element:
    match = re.search(r"<svg.*?</svg>", page, re.S)
    assert match, "the view has no chart"
    return ET.fromstring(match.group(0))


def values(svg: ET.Element, tag: str, css: str, attribute: str = "data-value") -> list[str]:
    return [e.get(attribute, "") for e in svg.iter(f"{SVG}{tag}") if e.get("class") == css]


@pytest.mark.parametrize("name", PATIENTS)
def test_the_view_agrees_with_the_cards(smart_app: Flask, fhir: FhirServer, name: str) -> None:
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    pid = patient_id(bundle)
    client = smart_app.test_client()
    assert sign_in(client, fhir.base, pid).status_code == 303
    response = client.get("/app")
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
    if assessment.trd.status in ("not-met", "indeterminate"):
        assert (
            f"counted in this episode: {assessment.trd.failed} of the "
            f"{assessment.trd.required} the TRD criteria need" in text
        )

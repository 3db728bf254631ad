"""Cards link the view, as a SMART app, only where it helps and only when it is set up."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.builders import FIXTURES, hook_request
from tests.smartapp.test_timeline import EXTENSION, PATIENTS

SMART = {"https://fhir.example.org/r4": {"client_id": "kcds"}}
VIEW_TOPICS = {"ketamine-eligibility", "ketamine-course"}
VIEW_DECISIONS = {"candidate", "not-trd", "indeterminate"}


def cards_for(client: Any, name: str) -> list[dict[str, Any]]:
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    response = client.post(
        "/cds-services/ketamine-trd-patient-view", json=hook_request("patient-view", bundle)
    )
    return response.json["cards"]  # type: ignore[no-any-return]


def smart_links(card: dict[str, Any]) -> list[dict[str, Any]]:
    return [link for link in card.get("links", []) if link["type"] == "smart"]


@pytest.mark.parametrize("name", PATIENTS)
def test_the_view_link_is_on_candidate_not_trd_indeterminate_and_course_cards(
    make_app: Any, name: str
) -> None:
    client = make_app(smart_clients=SMART).test_client()
    for card in cards_for(client, name):
        topic = card["source"]["topic"]["code"]
        decision = card.get("extension", {}).get(EXTENSION, {}).get("decision")
        wanted = topic == "ketamine-course" or (
            topic == "ketamine-eligibility" and decision in VIEW_DECISIONS
        )
        links = smart_links(card)
        assert len(card.get("links", [])) <= 3
        if not wanted:
            assert links == [], f"{name}: {topic} {decision}"
            continue
        assert links == [
            {
                "label": "Open TRD and course view",
                "url": "http://127.0.0.1:8080/app/launch",
                "type": "smart",
            }
        ], f"{name}: {topic} {decision}"


def test_each_kind_of_card_that_should_link_the_view_does(make_app: Any) -> None:
    client = make_app(smart_clients=SMART).test_client()
    linked = {
        (card["source"]["topic"]["code"], card["extension"][EXTENSION]["decision"])
        for name in PATIENTS
        for card in cards_for(client, name)
        if smart_links(card)
    }
    assert ("ketamine-eligibility", "candidate") in linked
    assert ("ketamine-eligibility", "not-trd") in linked
    assert ("ketamine-eligibility", "indeterminate") in linked
    assert ("ketamine-course", "monitoring") in linked


def test_a_candidate_card_links_both_handouts_on_one_page(make_app: Any, client: Any) -> None:
    linked = make_app(smart_clients=SMART).test_client()
    with_view = next(
        c
        for c in cards_for(linked, "candidate-two-failed-trials")
        if c["source"]["topic"]["code"] == "ketamine-eligibility"
    )
    assert [link["url"] for link in with_view["links"]][1:] == [
        "http://127.0.0.1:8080/handouts",
        "http://127.0.0.1:8080/app/launch",
    ]
    page = linked.get("/handouts")
    assert page.status_code == 200
    assert b'href="/handouts/esketamine"' in page.data and b'href="/handouts/ketamine"' in page.data
    without = next(
        c
        for c in cards_for(client, "candidate-two-failed-trials")
        if c["source"]["topic"]["code"] == "ketamine-eligibility"
    )
    assert [link["url"].rsplit("/", 1)[1] for link in without["links"]][1:] == [
        "esketamine",
        "ketamine",
    ]


def test_no_view_link_without_smart_clients(client: Any) -> None:
    for name in PATIENTS:
        for card in cards_for(client, name):
            assert smart_links(card) == []

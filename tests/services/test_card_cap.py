"""KETAMINE_CDS_MAX_CARDS: the most urgent cards stay, and one card counts the rest."""

from __future__ import annotations

from typing import Any

from cds_service.protocol.models import Card
from cds_service.services.card_cap import capped
from cds_service.services.common import source
from tests.builders import hook_request
from tests.fhir import neuromodulation_draft, spravato_draft
from tests.services.test_card_text import CODE_PATTERNS, prose_words

SIGN_URL = "/cds-services/ketamine-order-sign"
NOT_SHOWN = "org.ketamine-cds.cards-not-shown"


def card(indicator: str, topic: str, summary: str) -> Card:
    return Card(summary=summary, indicator=indicator, source=source(topic))  # type: ignore[arg-type]


def test_under_the_limit_the_cards_are_unchanged() -> None:
    cards = [card("info", "order-checklist", "a"), card("critical", "suicide-risk", "b")]
    assert capped(cards, 2, orders=True) == cards


def test_over_the_limit_the_most_urgent_stay_in_order_and_one_card_counts_the_rest() -> None:
    cards = [
        card("info", "order-checklist", "checklist 1"),
        card("warning", "ketamine-eligibility", "eligibility 1"),
        card("critical", "suicide-risk", "suicide"),
        card("info", "neuromodulation-safety", "ect"),
        card("warning", "ketamine-eligibility", "eligibility 2"),
    ]
    out = capped(cards, 3, orders=True)
    assert [c.summary for c in out[:2]] == ["suicide", "eligibility 1"]
    last = out[2]
    assert last.source.topic is not None and last.source.topic.code == "cards-not-shown"
    assert last.indicator == "warning"  # the most urgent card left out
    assert last.summary == (
        "3 more cards not shown, the most urgent warning: Ketamine/esketamine eligibility"
    )
    assert last.detail is not None
    assert "This request produced 5 cards; the 2 most urgent are shown." in last.detail
    assert (
        "Not shown: 1 warning card and 2 information cards "
        "(topics: Ketamine/esketamine eligibility, Order checklist, ECT/TMS safety)."
    ) in last.detail
    assert last.extension == {
        NOT_SHOWN: {
            "total": 5,
            "notShown": 3,
            "limit": 3,
            "byIndicator": {"critical": 0, "warning": 1, "info": 2},
        }
    }


def test_the_count_card_is_as_urgent_as_the_most_urgent_card_left_out() -> None:
    cards = [card("critical", "suicide-risk", f"critical {i}") for i in range(3)]
    out = capped(cards, 2, orders=False)
    assert [c.summary for c in out[:1]] == ["critical 0"]
    assert out[1].indicator == "critical"
    assert out[1].detail is not None
    assert out[1].detail.startswith(
        "**Ask your clinical informatics team to raise this service's card limit"
    )
    assert "KETAMINE_CDS" not in out[1].detail
    mixed = [cards[0], card("info", "order-checklist", "i"), card("warning", "blood-pressure", "w")]
    assert capped(mixed, 2, orders=True)[1].indicator == "warning"
    assert out[1].summary == "2 more cards not shown, the most urgent critical: Suicide risk"
    assert out[1].detail is not None and "Not shown: 2 critical cards" in out[1].detail


def many_drafts(count: int) -> dict[str, Any]:
    body = hook_request("order-sign")
    pid = body["context"]["patientId"]
    body["context"]["draftOrders"]["entry"] = [
        {"resource": spravato_draft(f"esketamine-{i}", pid)} for i in range(count)
    ] + [{"resource": neuromodulation_draft(f"ect-{i}", pid, "ect")} for i in range(count)]
    return body


def test_a_request_with_many_drafts_is_answered_within_the_card_limit(make_app) -> None:
    response = make_app(max_cards=5).test_client().post(SIGN_URL, json=many_drafts(4))
    assert response.status_code == 200, response.json
    cards = response.json["cards"]
    assert len(cards) == 5
    assert [c["source"]["topic"]["code"] for c in cards[:4]] == [
        "ketamine-eligibility",
        "order-checklist",
    ] * 2
    last = cards[4]
    assert last["source"]["topic"]["code"] == "cards-not-shown"
    assert last["extension"][NOT_SHOWN]["total"] == 12
    assert last["summary"].startswith("8 more cards not shown, the most urgent ")
    assert len(last["summary"]) < 140
    assert not any(p.search(last["summary"]) for p in CODE_PATTERNS.values())
    assert prose_words(last["detail"]) <= 100
    assert last["detail"].startswith("**Select or sign fewer orders at a time to see the rest.**")


def test_the_default_limit_holds_with_the_most_drafts_allowed(client) -> None:
    response = client.post(SIGN_URL, json=many_drafts(25))
    assert response.status_code == 200, response.json
    cards = response.json["cards"]
    assert len(cards) == 20
    assert cards[-1]["source"]["topic"]["code"] == "cards-not-shown"
    assert cards[-1]["extension"][NOT_SHOWN]["notShown"] == 75 - 19

"""Cards a prescriber reads in ten seconds: every card of every fixture, on every hook.

Each patient fixture goes through patient-view, and through order-sign with an esketamine and an
IV ketamine draft, besides its own request. Every card must keep the rules of docs/integration.md
§3 "How cards read": a summary under 140 characters with no codes and no nested parentheses;
at most 100 words of prose (40 on the patient-view not-trd card) and at most one table, only
where a table is the evidence; at most three links, to stable targets; Markdown that renders as
written. The fixtures must cover every topic and every decision, so none of this passes on zero
cards.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from cds_service.app import create_app
from cds_service.clinical.assessment import PRECEDENCE
from cds_service.config import Settings
from cds_service.services.codes import code_system
from tests.builders import FIXTURES, SERVICE_FOR_HOOK, hook_request, patient_id
from tests.conftest import NOW

EXTENSION = "org.ketamine-cds.assessment"
NAMES = sorted(p.stem for p in (FIXTURES / "expected").glob("*.json"))
PATIENTS = sorted(p.stem for p in (FIXTURES / "patients").glob("*.json"))
TRD_QUESTION = {"candidate", "candidate-caution", "not-trd", "indeterminate"}
# LOINC nnnnn-n, ICD-10-CM (F33.1, Z86.73), SNOMED CT ids (6-18 digits), RxNorm-like numbers.
CODE_PATTERNS = {
    "LOINC": re.compile(r"\b\d{4,5}-\d\b"),
    "ICD-10-CM": re.compile(r"\b[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?\b"),
    "SNOMED CT or RxNorm": re.compile(r"\b\d{6,18}\b"),
    "LOINC answer": re.compile(r"\bLA\d{3,5}-\d\b"),
}
STABLE_HOSTS = (
    "dailymed.nlm.nih.gov",
    "www.accessdata.fda.gov",
    "doi.org",
    "pmc.ncbi.nlm.nih.gov",
    "www.healthquality.va.gov",
    "988lifeline.org",
    "cssrs.columbia.edu",
)
# The drafts of two fixture requests: Spravato 56 mg, and IV ketamine 35 mg over 40 minutes.
DRAFT_SOURCES = (
    ("order-sign-esketamine-candidate", "spravato"),
    ("order-sign-ketamine-with-stimulant-maoi-lamotrigine", "ketamine"),
)


MARKDOWN = MarkdownIt("commonmark").enable("table")


def _fixture_request(name: str) -> tuple[str, dict[str, Any]]:
    hook = json.loads((FIXTURES / "expected" / f"{name}.json").read_text())["hook"]
    request = json.loads((FIXTURES / "requests" / hook / f"{name}.json").read_text())
    return SERVICE_FOR_HOOK[hook], request


def _draft(fixture: str, drug: str) -> dict[str, Any]:
    request = json.loads((FIXTURES / "requests" / "order-sign" / f"{fixture}.json").read_text())
    for entry in request["context"]["draftOrders"]["entry"]:
        if drug in json.dumps(entry["resource"].get("medicationCodeableConcept", {})).lower():
            return dict(entry["resource"])
    raise LookupError(f"no {drug} draft in {fixture}")


def _patient_requests(name: str) -> list[tuple[str, str, dict[str, Any]]]:
    """patient-view, and order-sign with each draft, for one fixture patient."""
    bundle = json.loads((FIXTURES / "patients" / f"{name}.json").read_text())
    out = [("patient-view", SERVICE_FOR_HOOK["patient-view"], hook_request("patient-view", bundle))]
    for fixture, drug in DRAFT_SOURCES:
        request = hook_request("order-sign", bundle)
        draft = _draft(fixture, drug) | {"subject": {"reference": f"Patient/{patient_id(bundle)}"}}
        request["context"]["draftOrders"]["entry"] = [{"resource": draft}]
        out.append((f"order-sign, {drug}", SERVICE_FOR_HOOK["order-sign"], request))
    return out


# Where a ketamine or esketamine draft is in the request, every card links its handout.
KETAMINE_ORDERED: set[str] = set()


def _orders_ketamine(request: dict[str, Any]) -> bool:
    drafts = json.dumps(request["context"].get("draftOrders", {})).lower()
    return "ketamine" in drafts or "spravato" in drafts


def _collect(client: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, hook, card) for every card of every fixture request and patient on every hook."""
    cards = []
    for name in NAMES:
        service, request = _fixture_request(name)
        response = client.post(f"/cds-services/{service}", json=request)
        assert response.status_code == 200, name
        if _orders_ketamine(request):
            KETAMINE_ORDERED.add(name)
        cards += [(name, request["hook"], c) for c in response.json["cards"]]
    for name in PATIENTS:
        for hook, service, request in _patient_requests(name):
            response = client.post(f"/cds-services/{service}", json=request)
            assert response.status_code == 200, (name, hook)
            kind = hook.split(",")[0]
            if _orders_ketamine(request):
                KETAMINE_ORDERED.add(f"{name} ({hook})")
            cards += [(f"{name} ({hook})", kind, c) for c in response.json["cards"]]
    return cards


@pytest.fixture(scope="module")
def every_card(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, dict[str, Any]]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), auth_enabled=False)
    app = create_app(settings, clock=lambda: NOW)
    try:
        return _collect(app.test_client())
    finally:
        app.extensions["ketamine_cds"].db.dispose()


def _blocks(detail: str) -> list[Token]:
    return MARKDOWN.parse(detail)


def prose_words(detail: str) -> int:
    """Words outside the one table: paragraphs, headings and list items."""
    words = 0
    inside_table = False
    for token in _blocks(detail):
        if token.type == "table_open":
            inside_table = True
        elif token.type == "table_close":
            inside_table = False
        elif token.type == "inline" and not inside_table:
            plain = re.sub(r"[*_`\\]", "", token.content)
            words += sum(1 for w in plain.split() if re.search(r"[A-Za-z0-9]", w))
    return words


def test_fixtures_cover_every_topic_and_every_decision(every_card) -> None:
    topics = {c["source"]["topic"]["code"] for _, _, c in every_card}
    decisions = {c["extension"][EXTENSION]["decision"] for _, _, c in every_card}
    concepts = code_system()["concept"]
    all_topics = {
        c["code"] for c in concepts if {"code": "kind", "valueCode": "topic"} in c["property"]
    }
    assert topics == all_topics - {"cards-not-shown"}  # test_card_cap.py reads that one
    assert decisions == set(PRECEDENCE)
    assert len(every_card) > 300


def test_summaries_are_short_plain_and_have_no_codes(every_card) -> None:
    for where, _, card in every_card:
        summary = card["summary"]
        assert len(summary) < 140, (where, summary)
        for kind, pattern in CODE_PATTERNS.items():
            assert not pattern.search(summary), (where, kind, summary)
        depth = 0
        for ch in summary:
            depth += {"(": 1, ")": -1}.get(ch, 0)
            assert depth <= 1, (where, "nested parentheses", summary)


def test_detail_prose_keeps_the_word_budget(every_card) -> None:
    for where, hook, card in every_card:
        decision = card["extension"][EXTENSION]["decision"]
        topic = card["source"]["topic"]["code"]
        quiet = hook == "patient-view" and topic == "ketamine-eligibility" and decision == "not-trd"
        budget = 40 if quiet else 100
        words = prose_words(card["detail"])
        assert words <= budget, (where, topic, words, card["detail"])


def test_a_table_only_where_it_is_the_evidence(every_card) -> None:
    for where, _, card in every_card:
        tokens = _blocks(card["detail"])
        tables = sum(t.type == "table_open" for t in tokens)
        topic = card["source"]["topic"]["code"]
        decision = card["extension"][EXTENSION]["decision"]
        assert tables <= 1, where
        if topic == "order-checklist":
            assert tables == 1, where
            rows = sum(t.type == "tr_open" for t in tokens) - 1
            assert 1 <= rows <= 8, (where, rows)
        elif tables:
            assert topic == "ketamine-eligibility" and decision in TRD_QUESTION, (where, decision)


def test_the_detail_leads_with_what_to_do_and_ends_with_its_source(every_card) -> None:
    for where, _, card in every_card:
        blocks = card["detail"].split("\n\n")
        assert re.fullmatch(r"\*\*[^*\n]+\*\*", blocks[0]), (where, blocks[0])
        assert blocks[-1].startswith("Source: "), (where, blocks[-1])


def test_links_are_few_stable_and_fit_the_card(every_card) -> None:
    for where, _, card in every_card:
        links = card.get("links", [])
        topic = card["source"]["topic"]["code"]
        decision = card["extension"][EXTENSION]["decision"]
        assert len(links) <= 3, where
        for link in links:
            url = link["url"]
            assert "search" not in url.lower() and "?term=" not in url, (where, url)
            stable = tuple(f"https://{host}/" for host in STABLE_HOSTS)
            assert url.startswith(("http://127.0.0.1:8080/handouts/", *stable)), (where, url)
        handouts = [link for link in links if "/handouts/" in link["url"]]
        ketamine_order = where in KETAMINE_ORDERED and topic != "neuromodulation-safety"
        if decision in ("candidate", "candidate-caution") and topic == "ketamine-eligibility":
            assert handouts, where
        if ketamine_order:
            assert handouts, (where, topic)
        if topic == "suicide-risk":
            assert links[0]["url"] == "https://988lifeline.org/", where


def test_no_repository_file_names_or_settings_jargon_in_card_text(every_card) -> None:
    jargon = re.compile(
        r"\.(py|json|md|j2)\b|clinical.basis|augmentation counting|setting is on|_days\b"
    )
    for where, _, card in every_card:
        text = card["summary"] + "\n" + card["detail"]
        assert not jargon.search(text), (where, jargon.search(text))


def test_no_paragraph_repeats_across_the_cards_of_one_response(every_card) -> None:
    by_response: dict[str, list[str]] = {}
    for where, _, card in every_card:
        by_response.setdefault(where, []).extend(
            b for b in card["detail"].split("\n\n") if len(b) > 60 and not b.startswith("|")
        )
    for where, blocks in by_response.items():
        assert len(blocks) == len(set(blocks)), where


def test_markdown_renders_as_written(every_card) -> None:
    """Every paragraph and list item is one source line, so a renderer cannot run a bold heading
    into the paragraph before it or a paragraph into a list item."""
    for where, _, card in every_card:
        for token in _blocks(card["detail"]):
            if token.type == "inline":
                assert "\n" not in token.content, (where, token.content)
        html = MARKDOWN.render(card["detail"])
        assert html.count("<p><strong>") >= 1, where
        assert "<li><p>" not in html, (where, "a loose list")


def test_a_card_never_contradicts_itself(every_card) -> None:
    for where, _, card in every_card:
        if card["source"]["topic"]["code"] == "neuromodulation-safety":
            continue  # its status speaks, not the ketamine decision
        decision = card["extension"][EXTENSION]["decision"]
        first = card["detail"].split("\n\n")[0]
        if decision in ("contraindicated", "not-indicated", "not-recommended", "defer"):
            assert not re.search(r"criteria are met|reasonable next step", card["detail"]), where
        if decision in ("candidate", "candidate-caution"):
            assert not re.search(r"\b(Do not|Avoid|Defer)\b", first), where


def test_override_reasons_fit_the_topic(every_card) -> None:
    for where, _, card in every_card:
        topic = card["source"]["topic"]["code"]
        codes = [r["code"] for r in card["overrideReasons"]]
        assert codes and "record-inaccurate" in codes, where
        if topic == "suicide-risk":
            assert "benefit-outweighs-risk" not in codes, where
            assert {"assessed-today", "in-crisis-care"} <= set(codes), where
        if topic == "blood-pressure":
            assert "bp-rechecked" in codes, where

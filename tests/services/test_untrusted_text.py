"""FHIR text reaching card Markdown is inert when rendered, even with raw HTML allowed.

The CDS Hooks Sandbox renders ``detail`` with raw HTML enabled, so the check renders each card
with markdown-it in the same permissive mode and looks at the HTML a browser would get.
"""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from tests import fhir as f
from tests.builders import hook_request
from tests.scenarios import trd_base

P = "p-hostile"
URL = "/cds-services/ketamine-trd-patient-view"
HOSTILE = (
    "Bipolar <script>alert(1)</script> <img src=x onerror=alert(2)> "
    "[click](javascript:alert(3)) ![i](https://evil.example/x.png) <https://evil.example>"
)
RENDER = MarkdownIt("commonmark", {"html": True})


def cards_for(client, condition: dict) -> list[dict]:
    body = hook_request("patient-view", f.bundle(P, [*trd_base(P), condition]))
    response = client.post(URL, json=body)
    assert response.status_code == 200
    return response.json["cards"]


@pytest.mark.parametrize("where", ["coding-display", "code-text"])
def test_hostile_condition_text_is_escaped_in_the_exclusion(client, where) -> None:
    condition = f.condition("bp", P, ("F31.9", "Bipolar disorder, unspecified"))
    if where == "coding-display":
        condition["code"]["coding"][0]["display"] = HOSTILE
    else:
        condition["code"]["text"] = HOSTILE
    [card] = cards_for(client, condition)
    assert card["extension"]["org.ketamine-cds.assessment"]["decision"] == "not-indicated"

    html = RENDER.render(card["detail"])
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html
    assert 'href="https://evil' not in html
    assert 'src="https://evil' not in html
    if where == "coding-display":
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown as text, not dropped
    assert "F31.9" not in html  # codes stay in the extension


def test_a_long_hostile_display_is_bounded_to_one_line(client) -> None:
    condition = f.condition("bp", P, ("F31.9", "Bipolar disorder, unspecified"))
    condition["code"]["coding"][0]["display"] = "# Heading\n\n" + "x" * 5000
    [card] = cards_for(client, condition)
    html = RENDER.render(card["detail"])
    assert "<h1>" not in html
    assert "x" * 201 not in card["detail"]

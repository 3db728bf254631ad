"""The console in headless Chromium: real page, real fetches, real feedback rows.

Uses Debian's ``chromium`` and ``chromium-driver`` through Selenium, with both paths given so
that Selenium Manager never runs and nothing is downloaded. Under ``CI=true`` a missing browser
fails the test; elsewhere it skips, saying what to install.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.storage.models import FeedbackRecord
from tests.conftest import NOW

CHROMIUM = os.environ.get("KETAMINE_CDS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KETAMINE_CDS_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT_S = 15


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if not missing:
        return
    message = (
        f"the console's browser tests need {' and '.join(missing)}: "
        "apt-get install chromium chromium-driver (or set KETAMINE_CDS_TEST_CHROMIUM and "
        "KETAMINE_CDS_TEST_CHROMEDRIVER)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("console") / "data", auth_enabled=False, log_level="ERROR"
    )
    app = create_app(settings, clock=lambda: NOW)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    app.extensions["ketamine_cds"].db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    with tempfile.TemporaryDirectory() as profile:
        for flag in (
            "--headless=new",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1600",
            f"--user-data-dir={profile}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        driver.implicitly_wait(0)
        try:
            yield driver
        finally:
            driver.quit()


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def _open_and_send(driver: Any, base: str, query: str) -> list[Any]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{base}/?{query}")
    _wait(driver, ec.element_to_be_clickable((By.ID, "send"))).click()
    _wait(driver, ec.text_to_be_present_in_element((By.ID, "status"), "card(s)"))
    cards: list[Any] = driver.find_elements(By.CSS_SELECTOR, "#cards article.card")
    return cards


def _severe_console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _feedback_rows(app: Flask) -> list[FeedbackRecord]:
    with app.extensions["ketamine_cds"].db.session() as session:
        return list(session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)))


def test_patient_view_renders_the_card_with_markdown(live_app: Any, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    _, base = live_app
    cards = _open_and_send(browser, base, "scenario=candidate-two-failed-trials")

    assert len(cards) == 1
    card = cards[0]
    assert "info" in card.get_attribute("class").split()
    summary = card.find_element(By.CSS_SELECTOR, ".summary").text
    assert summary.startswith(
        "Ketamine or esketamine is a reasonable next step: TRD, 2 failed trials"
    )
    table_cells = [td.text for td in card.find_elements(By.CSS_SELECTOR, ".detail table td")]
    assert "sertraline 100 MG Oral Tablet" in table_cells
    assert card.find_element(By.CSS_SELECTOR, ".detail strong").text
    assert '"decision": "candidate"' in card.find_element(
        By.CSS_SELECTOR, ".assessment pre"
    ).get_attribute("textContent")
    response = browser.find_element(By.ID, "response").get_attribute("textContent")
    assert '"cards"' in response
    assert _severe_console_errors(browser) == []


def test_accepting_a_suggestion_shows_its_resource_and_stores_feedback(
    live_app: Any, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    app, base = live_app
    card = _open_and_send(browser, base, "scenario=candidate-two-failed-trials")[0]
    card.find_element(By.CSS_SELECTOR, "button.suggestion.recommended").click()

    preview = card.find_element(By.CSS_SELECTOR, ".preview")
    assert '"resourceType": "ServiceRequest"' in preview.find_element(By.TAG_NAME, "pre").text
    preview.find_element(By.CSS_SELECTOR, "button.accept").click()
    feedback = card.find_element(By.CSS_SELECTOR, ".feedback")
    _wait(browser, lambda _: "Feedback stored: accepted" in feedback.text)

    rows = [r for r in _feedback_rows(app) if r.card_uuid == card.get_attribute("data-uuid")]
    assert [(r.outcome, r.service_id) for r in rows] == [("accepted", "ketamine-trd-patient-view")]
    assert rows[0].accepted_suggestions and len(rows[0].accepted_suggestions) == 1


@pytest.mark.parametrize(
    ("query", "topic"),
    [
        ("scenario=contraindicated-cerebral-aneurysm", "ketamine-eligibility"),
        ("scenario=course-iv-ketamine-non-responder", "ketamine-course"),
        ("scenario=suicide-urgent-with-trd", "suicide-risk"),
    ],
)
def test_card_blocks_render_apart_in_reading_order(
    live_app: Any, browser: Any, query: str, topic: str
) -> None:
    """The do-sentence is a paragraph of its own, the evidence follows, the source comes last:
    no heading runs into the paragraph before it, no paragraph into a list item."""
    from selenium.webdriver.common.by import By

    _, base = live_app
    cards = _open_and_send(browser, base, query)
    [card] = [c for c in cards if c.get_attribute("data-topic") == topic]
    blocks = card.find_elements(By.CSS_SELECTOR, ".detail > *")
    first, last = blocks[0], blocks[-1]
    assert first.tag_name == "p" and first.text == first.find_element(By.TAG_NAME, "strong").text
    assert last.tag_name == "p" and last.text.startswith("Source: ")
    assert all(b.text.count("Source:") <= 1 for b in blocks)
    for item in card.find_elements(By.CSS_SELECTOR, ".detail li"):
        assert "Source:" not in item.text and "\n" not in item.text.strip()


def test_dismissing_an_order_sign_hard_stop_sends_the_chosen_reason(
    live_app: Any, browser: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    app, base = live_app
    cards = _open_and_send(
        browser,
        base,
        "scenario=order-sign-ketamine-aneurysm-hard-stop&hook=order-sign&order=scenario",
    )
    critical = [c for c in cards if "critical" in c.get_attribute("class").split()]
    assert critical, [c.text for c in cards]
    card = critical[0]
    assert "delete MedicationRequest" in _suggestion_previews(card)

    assert not card.find_element(By.CSS_SELECTOR, ".dismiss").is_displayed()
    card.find_element(By.CSS_SELECTOR, "button.dismiss-card").click()
    assert card.find_element(By.CSS_SELECTOR, ".dismiss").is_displayed()
    reasons = Select(card.find_element(By.CSS_SELECTOR, ".dismiss select"))
    chosen = reasons.options[1].text
    reasons.select_by_index(1)
    card.find_element(By.CSS_SELECTOR, ".dismiss input").send_keys("discussed with neurology")
    card.find_element(By.CSS_SELECTOR, "button.confirm-dismiss").click()
    feedback = card.find_element(By.CSS_SELECTOR, ".feedback")
    _wait(browser, lambda _: "Feedback stored: overridden" in feedback.text)

    rows = [r for r in _feedback_rows(app) if r.card_uuid == card.get_attribute("data-uuid")]
    assert [(r.outcome, r.override_display, r.user_comment) for r in rows] == [
        ("overridden", chosen, "discussed with neurology")
    ]


def _suggestion_previews(card: Any) -> str:
    from selenium.webdriver.common.by import By

    texts = []
    for button in card.find_elements(By.CSS_SELECTOR, "button.suggestion"):
        button.click()
        texts.append(card.find_element(By.CSS_SELECTOR, ".preview").text)
    return "\n".join(texts)


def test_card_markdown_cannot_inject_markup_or_script_links(live_app: Any, browser: Any) -> None:
    _, base = live_app
    browser.get(f"{base}/")
    html = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "import('/console/static/markdown.js').then((m) => done(m.renderMarkdown(arguments[0])));",
        '<img src=x onerror="alert(1)"> **bold** [bad](javascript:alert(1)) '
        "[good](https://example.org/a?b=1&c=2)\n\n| a | b |\n|---|---|\n| <script> | `x<y` |",
    )

    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    assert "<strong>bold</strong>" in html
    assert "javascript:" not in html.split("bad")[0] and 'href="javascript' not in html
    assert 'href="https://example.org/a?b=1&amp;c=2"' in html
    assert "<td>&lt;script&gt;</td>" in html and "<code>x&lt;y</code>" in html


def test_a_service_error_is_shown_one_problem_per_line(live_app: Any, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    _, base = live_app
    browser.get(f"{base}/")
    send = _wait(browser, ec.element_to_be_clickable((By.ID, "send")))
    browser.execute_script(
        "document.getElementById('request').value = arguments[0];",
        '{"hook": "patient-view", "hookInstance": 5, "context": []}',
    )
    send.click()
    _wait(browser, ec.text_to_be_present_in_element((By.ID, "status"), "HTTP 400"))

    assert "error" in browser.find_element(By.ID, "status").get_attribute("class")
    lines = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#cards .problem li")]
    assert any(line.startswith("hookInstance:") for line in lines), lines
    assert any(line.startswith("context:") for line in lines), lines


def test_a_scenario_with_its_own_drafts_starts_with_them(live_app: Any, browser: Any) -> None:
    """Changing the scenario used to keep the last catalog draft, so a scenario's own drafts
    (and the cards they raise) were never sent."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select

    _, base = live_app
    browser.get(f"{base}/?scenario=candidate-two-failed-trials&hook=order-sign&order=esketamine")
    _wait(browser, ec.element_to_be_clickable((By.ID, "send")))
    assert (
        Select(browser.find_element(By.ID, "order")).first_selected_option.get_attribute("value")
        == "esketamine"
    )
    Select(browser.find_element(By.ID, "scenario")).select_by_value(
        "order-select-iv-ketamine-weight-missing"
    )
    _wait(browser, ec.text_to_be_present_in_element((By.ID, "status"), "Request ready"))
    order = Select(browser.find_element(By.ID, "order")).first_selected_option
    assert order.get_attribute("value") == "scenario"
    Select(browser.find_element(By.ID, "scenario")).select_by_value("candidate-two-failed-trials")
    _wait(browser, ec.text_to_be_present_in_element((By.ID, "status"), "Request ready"))
    order = Select(browser.find_element(By.ID, "order")).first_selected_option
    assert order.get_attribute("value") != "scenario"

"""In headless Chromium: console, card, its smart link, the SMART launch, and the view's chart."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.fhirserver import FhirStore, create_fhir_app
from tests.builders import FIXTURES
from tests.conftest import NOW
from tests.smartapp.conftest import CANDIDATE, serve
from tests.smartapp.test_timeline import view_of
from tests.test_console_browser import _open_and_send, _severe_console_errors, _wait, browser

__all__ = ["browser"]  # the Chromium fixture, shared with the console's tests

# Set to a directory to keep the screenshot (docs/images/trd-view.png is taken this way).
SCREENSHOT_DIR = os.environ.get("KETAMINE_CDS_SCREENSHOT_DIR")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    fhir_app = create_fhir_app(
        FhirStore.from_directory(FIXTURES / "patients", NOW.date()), smart=True
    )
    for fhir_base in serve(fhir_app):
        port = _free_port()
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("view") / "data",
            auth_enabled=False,
            bind=f"127.0.0.1:{port}",
            smart_clients={fhir_base: {"client_id": "ketamine-cds-demo"}},
            fhir_server_allowlist=[fhir_base],
            fhir_allow_http_loopback=True,
            log_level="ERROR",
        )
        app = create_app(settings, clock=lambda: NOW)
        for base in serve(app, port):
            yield app, base
        app.extensions["ketamine_cds"].db.dispose()


def test_a_card_opens_the_view_with_the_patients_phq9(
    live: Any, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    _, base = live
    cards = _open_and_send(browser, base, "scenario=candidate-two-failed-trials")
    link = cards[0].find_element(By.PARTIAL_LINK_TEXT, "Open TRD and course view")
    console = browser.current_window_handle
    link.click()
    _wait(browser, lambda driver: len(driver.window_handles) == 2)
    browser.switch_to.window(next(h for h in browser.window_handles if h != console))
    _wait(browser, ec.title_is("TRD and course view"))
    assert browser.current_url.startswith(f"{base}/app?view=")

    points = browser.find_elements(By.CSS_SELECTOR, "svg circle.phq9")
    bundle = json.loads((FIXTURES / "patients" / "candidate-two-failed-trials.json").read_text())
    _, _, expected = view_of(bundle)
    assert [float(p.get_attribute("data-value")) for p in points] == [
        p.value for p in expected.phq9
    ]
    assert expected.phq9, "the fixture has PHQ-9 scores to draw"
    summary = browser.find_element(By.CSS_SELECTOR, "article.card h3").text
    assert "reasonable next step" in summary
    assert CANDIDATE not in browser.page_source  # the page shows no ids
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("TRD and course view: Jordan Lee, born ")
    assert _severe_console_errors(browser) == []  # no CSP violation, nothing failed to load
    browser.set_window_size(1100, 1750)
    shot = Path(SCREENSHOT_DIR or tmp_path) / "trd-view.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    browser.close()
    browser.switch_to.window(console)
    browser.set_window_size(1280, 1600)

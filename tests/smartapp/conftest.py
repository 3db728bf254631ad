"""A SMART-mode fixture FHIR server on a real port, and the service configured to launch from it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from cds_service.fhirserver import FhirStore, create_fhir_app
from cds_service.fhirserver.smart import SmartDouble
from cds_service.smartapp.oauth import DISCOVERED
from tests.builders import FIXTURES
from tests.conftest import NOW

CLIENT_ID = "ketamine-cds-test"
CANDIDATE = "pat-candidate-two-failed-trials"


@dataclass
class FhirServer:
    base: str
    double: SmartDouble | None


@pytest.fixture(autouse=True)
def _fresh_discovery() -> Iterator[None]:
    """Tests serve different SMART configurations at the same URL; none may see another's."""
    DISCOVERED.clear()
    yield
    DISCOVERED.clear()


@pytest.fixture(scope="module")
def store() -> FhirStore:
    return FhirStore.from_directory(FIXTURES / "patients", NOW.date())


def serve(app: Flask, port: int = 0) -> Iterator[str]:
    """Serve ``app`` on loopback in a thread; yields its base URL, then stops it."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def fhir(store: FhirStore) -> Iterator[FhirServer]:
    app = create_fhir_app(store, smart=True)
    for base in serve(app):
        yield FhirServer(base, app.extensions["smart"])


class Clock:
    """The service's clock, which a test may move on."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_smart_app(make_app: Any, clock: Clock) -> Any:
    """The service with a SMART client for ``fhir_base``, on the test's movable clock."""

    def build(fhir_base: str, **overrides: Any) -> Flask:
        clients = {fhir_base: {"client_id": CLIENT_ID}}
        return make_app(clock=clock, smart_clients=clients, **overrides)  # type: ignore[no-any-return]

    return build


@pytest.fixture
def smart_app(make_smart_app: Any, fhir: FhirServer) -> Flask:
    return make_smart_app(fhir.base)


def launch_path(iss: str, launch: str = CANDIDATE) -> str:
    return f"/app/launch?iss={quote(iss, safe='')}&launch={quote(launch, safe='')}"


def authorize(location: str) -> str:
    """Follow the authorization redirect at the test double; the callback's path and query."""
    answer = requests.get(location, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    callback = urlsplit(answer.headers["Location"])
    return f"{callback.path}?{callback.query}"


def callback_path(client: FlaskClient, iss: str, launch: str = CANDIDATE) -> str:
    """Launch and authorize; the callback the authorization server sends the browser to."""
    started = client.get(launch_path(iss, launch))
    assert started.status_code == 302, started.get_data(as_text=True)
    return authorize(started.headers["Location"])


def sign_in(client: FlaskClient, iss: str, launch: str = CANDIDATE) -> Any:
    """Launch, authorize and call back; the callback's response."""
    return client.get(callback_path(client, iss, launch))

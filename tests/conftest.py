"""Fixtures: settings on a temp data dir, the app, and a client that checks every response.

Tests marked ``both_databases`` run on SQLite and on PostgreSQL (tests/postgres.py).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.logs import JsonFormatter
from tests import postgres
from tests.contract import check_response

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the fixtures' anchor date (fixtures/README.md)

# Hypothesis profiles for every property test: "ci" in make test, "deep" with
# HYPOTHESIS_PROFILE=deep. Loaded here, so that a test module run alone gets the same settings.
_HYPOTHESIS: dict[str, Any] = {
    "deadline": None,  # slowness is asserted per request (tests/fuzz/mutations.MAX_SECONDS)
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # one app per test; examples share it on purpose
    ],
}
hypothesis_settings.register_profile("ci", max_examples=20, **_HYPOTHESIS)
hypothesis_settings.register_profile("deep", max_examples=2000, **_HYPOTHESIS)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


class ContractClient(FlaskClient):
    """A test client that validates each response against the CDS Hooks contract."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        check_response(
            response.request.method,
            response.request.path,
            response.status_code,
            response.content_type or "",
            response.get_data(),
        )
        return response


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_databases: run on SQLite and on PostgreSQL (tests/postgres.py)"
    )
    config.addinivalue_line("markers", "postgres: the PostgreSQL run of a both_databases test")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_databases") and (
        "database_url" in metafunc.fixturenames
    ):
        metafunc.parametrize("database_url", postgres.BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = postgres.admin_engine(postgres.server_url())
    yield engine
    engine.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str | None]:
    """The database URL of a both_databases test; None elsewhere (the data dir's SQLite file)."""
    backend = getattr(request, "param", None)
    if backend == "postgresql":
        with postgres.throwaway_schema(request.getfixturevalue("postgres_admin")) as url:
            yield url
    elif backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ketamine-cds.sqlite3'}"
    else:
        yield None


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Everything the service logs, formatted exactly as in production (extras included)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cds_service")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KETAMINE_CDS_") or name == "DATABASE_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def make_settings(tmp_path: Any, database_url: str | None) -> Any:
    def build(**overrides: Any) -> Settings:
        defaults: dict[str, Any] = {
            "auth_enabled": False,
            "fhir_server_allowlist": ["http://localhost:*", "http://127.0.0.1:*"],
            "fhir_allow_http_loopback": True,
        }
        if database_url:
            defaults["database_url"] = database_url
        return Settings(data_dir=tmp_path / "data", **{**defaults, **overrides})

    return build


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()


@pytest.fixture
def make_app(make_settings: Any) -> Iterator[Any]:
    apps: list[Flask] = []

    def build(clock: Callable[[], datetime] = lambda: NOW, **overrides: Any) -> Flask:
        app = create_app(make_settings(**overrides), clock=clock)
        app.test_client_class = ContractClient
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["ketamine_cds"].db.dispose()


@pytest.fixture
def app(make_app: Any) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def terminology() -> Any:
    from cds_service.record.terminology import default_terminology

    return default_terminology()


@pytest.fixture
def record_from(terminology: Any) -> Any:
    """Build a PatientRecord from FHIR resources, evaluated at the anchor date."""
    from cds_service.record.record import PatientRecord

    def build(*resources: dict[str, Any], patient_id: str = "p1") -> PatientRecord:
        return PatientRecord.from_resources(
            list(resources), today=NOW.date(), terminology=terminology, patient_id=patient_id
        )

    return build


@pytest.fixture
def assess_record(terminology: Any) -> Any:
    from cds_service.clinical.assessment import assess
    from cds_service.clinical.settings import ClinicalSettings

    def run(record: Any, order: Any = None, others: tuple[Any, ...] = (), **settings: Any) -> Any:
        return assess(
            record, terminology, ClinicalSettings(**settings), order=order, other_orders=others
        )

    return run


@pytest.fixture
def draft(terminology: Any) -> Any:
    """Parse draft order resources as the order hooks do."""
    from cds_service.record.orders import draft_orders

    return lambda *resources: draft_orders([(r, None) for r in resources], terminology)

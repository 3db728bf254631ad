"""One audit row per hook call, with the patient id hashed under a site salt."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from cds_service.storage.dialects import as_utc
from cds_service.storage.models import AuditRecord
from tests.builders import hook_request

URL = "/cds-services/ketamine-trd-patient-view"


def rows(app) -> list[AuditRecord]:
    with app.extensions["ketamine_cds"].db.session() as session:
        return list(session.scalars(select(AuditRecord).order_by(AuditRecord.id)))


def expected_hash(salt: bytes, patient_id: str) -> str:
    return hmac.new(salt, patient_id.encode(), hashlib.sha256).hexdigest()


@pytest.mark.both_databases
def test_a_hook_call_is_audited_with_a_salted_patient_hash(make_app) -> None:
    app = make_app(audit_salt="site-salt-1")
    body = hook_request("patient-view")
    response = app.test_client().post(URL, json=body, headers={"X-Request-ID": "req-1"})
    assert response.status_code == 200

    [row] = rows(app)
    pid = body["context"]["patientId"]
    assert row.patient_hash == expected_hash(b"site-salt-1", pid)
    assert pid not in row.patient_hash
    assert (row.service_id, row.hook, row.hook_instance) == (
        "ketamine-trd-patient-view",
        "patient-view",
        body["hookInstance"],
    )
    assert row.request_id == "req-1"
    assert row.card_topics == ["ketamine-eligibility"]
    assert row.decisions == ["candidate"]
    assert row.status == 200
    assert row.latency_ms > 0
    assert row.issuer is None


@pytest.mark.both_databases
def test_refused_calls_are_audited_without_a_patient(make_app) -> None:
    app = make_app()
    client = app.test_client()
    client.post(URL, data="{not json", content_type="application/json")
    body = hook_request("patient-view")
    del body["prefetch"]["patient"]
    body.pop("fhirServer", None)
    client.post(URL, json=body)

    malformed, unavailable = rows(app)
    assert (malformed.status, malformed.patient_hash, malformed.card_topics) == (400, None, None)
    assert unavailable.status == 412
    assert unavailable.patient_hash is not None
    assert unavailable.card_topics is None


@pytest.mark.both_databases
def test_discovery_and_feedback_are_not_hook_calls(app, client) -> None:
    client.get("/cds-services")
    client.post(f"{URL}/feedback", json={"feedback": []})
    assert rows(app) == []


@pytest.mark.both_databases
def test_the_generated_salt_is_private_and_stable_across_restarts(make_app, settings) -> None:
    body = hook_request("patient-view")
    first, second = make_app(), make_app()
    first.test_client().post(URL, json=body)
    second.test_client().post(URL, json=body)

    salt_file = settings.data_dir / "audit-salt"
    assert stat.S_IMODE(salt_file.stat().st_mode) == 0o600
    salt = salt_file.read_text().strip().encode()
    assert len(salt) == 64
    hashes = {r.patient_hash for r in rows(second)}
    assert hashes == {expected_hash(salt, body["context"]["patientId"])}


@pytest.mark.both_databases
def test_no_phi_or_token_is_stored_in_the_audit_row(make_app) -> None:
    app = make_app()
    body = hook_request("patient-view")
    body["fhirAuthorization"] = {
        "access_token": "secret-access-token-1234",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/*.read",
        "subject": "ketamine-cds",
    }
    app.test_client().post(URL, json=body)
    [row] = rows(app)
    stored = json.dumps(
        {c.name: getattr(row, c.name) for c in AuditRecord.__table__.columns}, default=str
    )
    patient = body["prefetch"]["patient"]
    for secret in (
        "secret-access-token-1234",
        body["context"]["patientId"],
        patient["name"][0]["family"],
        patient["birthDate"],
    ):
        assert secret not in stored


@pytest.mark.both_databases
def test_a_failed_audit_write_does_not_lose_the_answer(make_app, json_logs) -> None:
    app = make_app()
    with app.extensions["ketamine_cds"].db.engine.begin() as conn:
        conn.execute(text("DROP TABLE audit"))
    response = app.test_client().post(URL, json=hook_request("patient-view"))
    assert response.status_code == 200
    assert response.json["cards"][0]["source"]["topic"]["code"] == "ketamine-eligibility"
    assert "audit row not stored" in json_logs.getvalue()


def test_an_empty_salt_file_is_refused_not_used(make_app, settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "audit-salt").write_text("")
    with pytest.raises(RuntimeError, match="audit-salt is empty"):
        make_app()


def test_a_failed_start_disposes_of_its_database_pool(make_app, settings, monkeypatch) -> None:
    from cds_service.storage import Database

    disposed: list[Database] = []
    original = Database.dispose
    monkeypatch.setattr(Database, "dispose", lambda db: disposed.append(db) or original(db))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "audit-salt").write_text("")
    with pytest.raises(RuntimeError, match="audit-salt is empty"):
        make_app()
    assert len(disposed) == 1


def test_concurrent_first_starts_agree_on_one_salt(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cds_service.storage import load_or_create_salt

    with ThreadPoolExecutor(8) as pool:
        salts = set(pool.map(lambda _: load_or_create_salt(None, tmp_path), range(32)))
    [salt] = salts
    assert len(salt) == 64
    assert [p.name for p in tmp_path.iterdir()] == ["audit-salt"]


@pytest.mark.both_databases
def test_an_unknown_service_in_the_url_is_audited_as_storable_text(app, client) -> None:
    """The service id is the client's URL: NUL dropped and cut to the column, never lost."""
    for path in ("/cds-services/%00ab%00c", "/cds-services/" + "s" * 100):
        assert client.post(path, json=hook_request("patient-view")).status_code == 404
    assert [(r.service_id, r.status) for r in rows(app)] == [("abc", 404), ("s" * 64, 404)]


@pytest.mark.both_databases
def test_times_are_read_back_in_utc(make_app, monkeypatch) -> None:
    """Whatever the database session's own zone (libpq takes it from PGTZ)."""
    monkeypatch.setenv("PGTZ", "Asia/Kolkata")
    app = make_app()
    app.test_client().post(URL, json=hook_request("patient-view"))
    [row] = rows(app)
    assert row.at.utcoffset() in (None, timedelta(0))  # SQLite: naive, and UTC by convention
    assert abs(as_utc(row.at) - datetime.now(UTC)) < timedelta(minutes=1)

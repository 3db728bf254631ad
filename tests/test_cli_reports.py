"""``feedback-report`` joins feedback to the cards as sent; ``audit`` queries the audit trail."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest

from cds_service.cli import main
from tests.builders import FIXTURES, hook_request

PATIENT_VIEW = "/cds-services/ketamine-trd-patient-view"
ORDER_SIGN = "/cds-services/ketamine-order-sign"
SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/ketamine-cds"

pytestmark = pytest.mark.both_databases


def use_the_apps_database(settings, monkeypatch) -> None:
    """The commands read the settings from the environment: point them at the app's."""
    monkeypatch.setenv("KETAMINE_CDS_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KETAMINE_CDS_DATABASE_URL", str(settings.database_url))


@pytest.fixture
def history(make_app, settings, monkeypatch):
    """Two candidate cards (one accepted, one overridden), one contraindication, stray feedback."""
    use_the_apps_database(settings, monkeypatch)
    client = make_app().test_client()
    candidates = [
        client.post(PATIENT_VIEW, json=hook_request("patient-view")).json["cards"][0]
        for _ in range(2)
    ]
    pregnant = json.loads(
        (FIXTURES / "requests/order-sign/order-sign-esketamine-pregnant-hard-stop.json").read_text()
    )
    client.post(ORDER_SIGN, json=pregnant)
    refused = hook_request("patient-view")
    del refused["prefetch"]["patient"]
    refused.pop("fhirServer")
    client.post(PATIENT_VIEW, json=refused)

    def outcome(card: str, kind: str, reason: str | None = None, suggestion: str = "") -> dict:
        item = {"card": card, "outcome": kind, "outcomeTimestamp": "2026-03-02T10:05:31Z"}
        if suggestion:
            item["acceptedSuggestions"] = [{"id": suggestion}]
        if reason:
            item["overrideReason"] = {"reason": {"system": SYSTEM, "code": reason}}
        return item

    feedback = [
        outcome(
            candidates[0]["uuid"], "accepted", suggestion=candidates[0]["suggestions"][0]["uuid"]
        ),
        outcome(candidates[1]["uuid"], "overridden", "patient-declined-alternative"),
        outcome(str(uuid.uuid4()), "overridden"),
    ]
    assert client.post(f"{PATIENT_VIEW}/feedback", json={"feedback": feedback}).status_code == 200
    return {"patient_id": hook_request("patient-view")["context"]["patientId"]}


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_rates_by_topic_decision_and_reason(history, capsys) -> None:
    rows = json.loads(run(capsys, "feedback-report", "--format", "json"))
    by_key = {(r["topic"], r["decision"]): r for r in rows}
    candidate = by_key[("ketamine-eligibility", "candidate")]
    assert (candidate["issued"], candidate["accepted"], candidate["overridden"]) == (2, 1, 1)
    assert candidate["acceptance_rate"] == 0.5
    assert candidate["override_reasons"] == {"patient-declined-alternative": 1}
    contraindicated = by_key[("ketamine-eligibility", "contraindicated")]
    assert (contraindicated["issued"], contraindicated["acceptance_rate"]) == (1, None)
    stray = by_key[("(unknown card)", "-")]
    assert (stray["issued"], stray["overridden"]) == (0, 1)
    assert stray["override_reasons"] == {"(no reason given)": 1}
    assert rows[-1]["topic"] == "(unknown card)"


def test_csv_and_text_formats(history, capsys) -> None:
    table = list(csv.DictReader(io.StringIO(run(capsys, "feedback-report", "--format", "csv"))))
    candidate = next(r for r in table if r["decision"] == "candidate")
    assert candidate["override_reasons"] == "patient-declined-alternative:1"
    assert candidate["acceptance_rate"] == "0.5"
    text = run(capsys, "feedback-report")
    assert (
        "overridden because patient-declined-alternative (Patient declined the alternatives): 1"
        in text
    )
    assert "50%" in text


def test_since_a_future_day_reports_nothing(history, capsys) -> None:
    assert run(capsys, "feedback-report", "--since", "2999-01-01") == (
        "No cards issued and no feedback received since 2999-01-01.\n"
    )


def test_audit_queries_by_patient_status_and_service(history, capsys) -> None:
    everything = json.loads(run(capsys, "audit", "--format", "json"))
    assert [r["status"] for r in everything] == [412, 200, 200, 200]
    assert all(r["at"].endswith("+00:00") for r in everything)  # UTC on every database
    assert everything[1]["service_id"] == "ketamine-order-sign"

    mine = json.loads(run(capsys, "audit", "--patient", history["patient_id"], "--format", "json"))
    assert len(mine) == 3  # the refused call named the same patient
    assert history["patient_id"] not in json.dumps(mine)

    refused = json.loads(run(capsys, "audit", "--status", "412", "--format", "json"))
    assert [r["decisions"] for r in refused] == [None]
    signs = run(capsys, "audit", "--service", "ketamine-order-sign")
    assert signs.count("\n") == 1
    assert "decisions=contraindicated" in signs
    assert run(capsys, "audit", "--patient", "nobody") == "No audited calls match.\n"


def test_a_card_counts_once_by_its_latest_outcome(make_app, settings, monkeypatch, capsys) -> None:
    use_the_apps_database(settings, monkeypatch)
    client = make_app().test_client()
    card = client.post(PATIENT_VIEW, json=hook_request("patient-view")).json["cards"][0]
    suggestion = card["suggestions"][0]["uuid"]
    items = [
        {
            "card": card["uuid"],
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": suggestion}],
            "outcomeTimestamp": "2026-03-02T10:05:31Z",
        },
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:07:00Z"},
        {"card": card["uuid"], "outcome": "overridden", "outcomeTimestamp": "2026-03-02T10:06:00Z"},
    ]
    client.post(f"{PATIENT_VIEW}/feedback", json={"feedback": items})
    [row] = json.loads(run(capsys, "feedback-report", "--format", "json"))
    assert (row["issued"], row["accepted"], row["overridden"]) == (1, 0, 1)


def test_since_selects_cards_by_when_they_were_issued(history, settings, capsys) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine, update

    from cds_service.storage.models import IssuedCard

    engine = create_engine(str(settings.database_url))
    with engine.begin() as conn:
        conn.execute(update(IssuedCard).values(at=datetime(2020, 1, 1, tzinfo=UTC)))
    engine.dispose()
    rows = json.loads(run(capsys, "feedback-report", "--since", "2025-01-01", "--format", "json"))
    assert [(r["topic"], r["issued"], r["accepted"], r["overridden"]) for r in rows] == [
        ("(unknown card)", 0, 0, 1)
    ]


def test_audit_by_patient_needs_the_services_salt(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KETAMINE_CDS_DATA_DIR", str(tmp_path / "elsewhere"))
    out = run(capsys, "audit", "--patient", "p1")
    assert out.startswith("No audit salt in")
    assert not (tmp_path / "elsewhere" / "audit-salt").exists()


def test_text_columns_line_up_for_every_decision(history, make_app, capsys) -> None:
    caution = json.loads((FIXTURES / "patients/candidate-caution-bp-150-92.json").read_text())
    make_app().test_client().post(PATIENT_VIEW, json=hook_request("patient-view", caution))
    text = run(capsys, "feedback-report")
    rows = [line for line in text.splitlines() if "overridden because" not in line]
    assert any(" candidate-caution " in row for row in rows), text
    assert len({len(row) for row in rows}) == 1, text

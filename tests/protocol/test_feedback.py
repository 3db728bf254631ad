"""POST /cds-services/{id}/feedback: spec shape and Sandbox quirks, stored once per item."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.storage.models import FeedbackRecord
from tests.contract import VALIDATORS

URL = "/cds-services/ketamine-order-sign/feedback"
CARD = "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11"
SUGGESTION = "c1d2e3f4-0a1b-4c2d-8e3f-123456789abc"
OVERRIDE_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/ketamine-cds"

pytestmark = pytest.mark.both_databases


def accepted(timestamp: str = "2026-03-02T10:05:31Z") -> dict:
    return {
        "card": CARD,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": SUGGESTION}],
        "outcomeTimestamp": timestamp,
    }


def overridden(**extra: object) -> dict:
    return {
        "card": CARD,
        "outcome": "overridden",
        "outcomeTimestamp": "2026-03-02T10:06:00Z",
        **extra,
    }


def rows(app) -> list[FeedbackRecord]:
    with app.extensions["ketamine_cds"].db.session() as session:
        return list(session.scalars(select(FeedbackRecord).order_by(FeedbackRecord.id)))


def count(app) -> int:
    with app.extensions["ketamine_cds"].db.session() as session:
        return session.scalar(select(func.count()).select_from(FeedbackRecord)) or 0


def test_spec_shaped_feedback_is_stored(app, client) -> None:
    reason = {
        "reason": {
            "system": OVERRIDE_SYSTEM,
            "code": "benefit-outweighs-risk",
            "display": "Benefit outweighs risk",
        },
        "userComment": "Discussed with the patient",
    }
    body = {"feedback": [accepted(), overridden(overrideReason=reason)]}
    assert not list(VALIDATORS["feedback-request"].iter_errors(body))
    response = client.post(URL, json=body)
    assert response.status_code == 200
    assert response.json == {"received": 2, "stored": 2}
    stored = rows(app)
    assert [(r.outcome, r.service_id) for r in stored] == [
        ("accepted", "ketamine-order-sign"),
        ("overridden", "ketamine-order-sign"),
    ]
    assert stored[0].accepted_suggestions == [SUGGESTION]
    assert stored[0].outcome_timestamp == "2026-03-02T10:05:31.000000Z"
    assert (stored[1].override_code, stored[1].override_display, stored[1].user_comment) == (
        "benefit-outweighs-risk",
        "Benefit outweighs risk",
        "Discussed with the patient",
    )


def test_sandbox_dismissal_with_bare_reason_code_and_milliseconds_is_accepted(app, client):
    body = {
        "feedback": [
            overridden(
                outcomeTimestamp="2026-03-02T10:06:00.123Z",
                overrideReason={"reason": {"code": "not-relevant"}},
            )
        ]
    }
    assert list(VALIDATORS["feedback-request"].iter_errors(body)), "quirk must be off-spec"
    response = client.post(URL, json=body)
    assert response.status_code == 200
    record = rows(app)[0]
    assert (record.override_code, record.override_system) == ("not-relevant", None)
    assert record.outcome_timestamp == "2026-03-02T10:06:00.123000Z"


def test_old_sandbox_override_without_reason_wrapper_is_accepted(app, client) -> None:
    body = {"feedback": [overridden(overrideReason={"code": "x", "system": OVERRIDE_SYSTEM})]}
    assert client.post(URL, json=body).status_code == 200
    assert rows(app)[0].override_code == "x"


def test_timestamp_without_offset_is_taken_as_utc(app, client) -> None:
    client.post(URL, json={"feedback": [overridden(outcomeTimestamp="2026-03-02T10:06:00")]})
    assert rows(app)[0].outcome_timestamp == "2026-03-02T10:06:00.000000Z"


def test_dismissal_without_reason_is_valid(app, client) -> None:
    assert client.post(URL, json={"feedback": [overridden()]}).json == {"received": 1, "stored": 1}


def test_repeated_feedback_is_stored_once(app, client) -> None:
    client.post(URL, json={"feedback": [accepted()]})
    again = client.post(URL, json={"feedback": [accepted("2026-03-02T10:05:31.000Z"), accepted()]})
    assert again.status_code == 200
    assert again.json == {"received": 2, "stored": 0}
    assert count(app) == 1


def test_same_card_with_a_new_timestamp_is_a_new_item(app, client) -> None:
    client.post(URL, json={"feedback": [accepted()]})
    client.post(URL, json={"feedback": [accepted("2026-03-02T10:09:00Z")]})
    assert count(app) == 2


def test_feedback_survives_an_app_restart(make_app) -> None:
    first = make_app()
    first.test_client().post(URL, json={"feedback": [accepted()]})
    second = make_app()
    assert count(second) == 1


TS = "2026-03-02T10:00:00Z"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "feedback: is required"),
        ({"feedback": []}, "feedback: List should have at least 1 item"),
        (
            {"feedback": [{"card": CARD, "outcome": "ignored", "outcomeTimestamp": TS}]},
            "feedback[0].outcome: Input should be 'accepted' or 'overridden'",
        ),
        (
            {"feedback": [{"card": CARD, "outcome": "accepted", "outcomeTimestamp": TS}]},
            "needs acceptedSuggestions",
        ),
        ({"feedback": [overridden(overrideReason={})]}, "needs a reason or a userComment"),
        (
            {"feedback": [{"card": CARD, "outcome": "overridden"}]},
            "feedback[0].outcomeTimestamp: is required",
        ),
        ({"feedback": [overridden(outcomeTimestamp="yesterday")]}, "feedback[0].outcomeTimestamp"),
        (
            {"feedback": [overridden(outcomeTimestamp="\u0662\u0660\u0662\u0666-03-02T10:00:00Z")]},
            "feedback[0].outcomeTimestamp: must be an ISO 8601 date-time",
        ),
        (
            {"feedback": [accepted() | {"acceptedSuggestions": [{}]}]},
            "feedback[0].acceptedSuggestions[0].id: is required",
        ),
        (
            {"feedback": [overridden(overrideReason={"display": {}, "userComment": "x"})]},
            "feedback[0].overrideReason.reason.display: Input should be a valid string",
        ),
        (
            {"feedback": [overridden(overrideReason={"system": "s", "userComment": "x"})]},
            "feedback[0].overrideReason.reason.code: is required",
        ),
        (
            {"feedback": [overridden(overrideReason={"reason": {"code": "a"}, "code": "b"})]},
            "not both",
        ),
    ],
)
def test_malformed_feedback_is_400_with_the_reason(app, client, body: dict, expected: str) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 400
    assert expected in " | ".join(i["diagnostics"] for i in response.json["issue"])
    assert count(app) == 0


def test_a_bad_item_rejects_the_batch_without_storing_part_of_it(app, client) -> None:
    response = client.post(URL, json={"feedback": [accepted(), {"card": CARD}]})
    assert response.status_code == 400
    assert count(app) == 0


def test_feedback_for_an_unknown_service_is_404(client) -> None:
    response = client.post("/cds-services/unknown/feedback", json={"feedback": [accepted()]})
    assert response.status_code == 404


def test_malformed_json_feedback_is_400(client) -> None:
    response = client.post(URL, data="{feedback:", content_type="application/json")
    assert response.status_code == 400
    assert response.json["issue"][0]["details"]["coding"][0]["code"] == "invalid-json"


def test_database_url_selects_where_feedback_is_stored(tmp_path, monkeypatch) -> None:
    """Builds its own settings, so that DATABASE_URL, not the test's database, is in force."""
    elsewhere = tmp_path / "elsewhere" / "feedback.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{elsewhere}")
    app = create_app(Settings(data_dir=tmp_path / "data", auth_enabled=False))
    app.test_client().post(URL, json={"feedback": [accepted()]})
    assert elsewhere.is_file()
    assert not (tmp_path / "data" / "ketamine-cds.sqlite3").exists()
    assert count(app) == 1
    app.extensions["ketamine_cds"].db.dispose()


NUL = "\u0000"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (overridden(overrideReason={"userComment": f"see{NUL}note"}), "userComment"),
        (overridden(overrideReason={"reason": {"code": f"x{NUL}"}}), "reason.code"),
        (overridden(overrideReason={"reason": {"code": "x", "display": NUL}}), "reason.display"),
        (overridden(card=f"{CARD}{NUL}"), "feedback[0].card"),
        (accepted() | {"acceptedSuggestions": [{"id": f"{NUL}1"}]}, "acceptedSuggestions[0].id"),
    ],
)
def test_a_nul_character_is_400_not_500(app, client, item: dict, field: str) -> None:
    """PostgreSQL cannot store U+0000 in text: it is refused before it reaches the database."""
    response = client.post(URL, json={"feedback": [item]})
    assert response.status_code == 400
    [issue] = response.json["issue"]
    assert field in issue["diagnostics"]
    assert "NUL" in issue["diagnostics"]
    assert count(app) == 0


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (overridden(card="c" * 65), "feedback[0].card"),
        (overridden(overrideReason={"reason": {"code": "c" * 129}}), "reason.code"),
        (overridden(overrideReason={"reason": {"code": "x", "system": "s" * 256}}), "system"),
        (overridden(overrideReason={"userComment": "w" * 4001}), "userComment"),
    ],
)
def test_values_longer_than_their_columns_are_400_not_500(app, client, item, field) -> None:
    """PostgreSQL enforces VARCHAR lengths (SQLite does not): too long is the client's error."""
    response = client.post(URL, json={"feedback": [item]})
    assert response.status_code == 400
    assert field in response.json["issue"][0]["diagnostics"]
    assert count(app) == 0


def test_values_as_long_as_their_columns_are_stored(app, client) -> None:
    reason = {"reason": {"code": "c" * 128, "system": "s" * 255, "display": "d" * 255}}
    item = overridden(card="c" * 64, overrideReason={**reason, "userComment": "w" * 4000})
    assert client.post(URL, json={"feedback": [item]}).json == {"received": 1, "stored": 1}
    [row] = rows(app)
    assert (len(row.card_uuid), len(row.override_code), len(row.user_comment)) == (64, 128, 4000)


def test_a_large_batch_is_counted_and_stored_once(app, client) -> None:
    """A thousand items in one call are each stored once, and the count says so."""
    n = 1001
    items = [
        overridden(outcomeTimestamp=f"2026-03-02T10:{i // 60:02}:{i % 60:02}Z")
        for i in range(n + 10)
    ]
    assert client.post(URL, json={"feedback": items[:n]}).json == {"received": n, "stored": n}
    again = client.post(URL, json={"feedback": items[::-1]})  # all stored but the last 10
    assert again.json == {"received": n + 10, "stored": 10}
    assert count(app) == n + 10
    assert rows(app)[0].accepted_suggestions is None

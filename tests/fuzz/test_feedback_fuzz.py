"""Mutated feedback never gets a 5xx, on SQLite and PostgreSQL; what is accepted is stored once.

Feedback is the one body the service writes to its database, so these run on both backends:
PostgreSQL refuses what SQLite keeps (the NUL character, strings over a column's length).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.fuzz.mutations import (
    ENCODINGS,
    FEEDBACK_STATUSES,
    ODD_TEXT,
    encode,
    examples,
    has_lone_surrogate,
    mutate,
    pick,
    post,
    server_errors,
)

pytestmark = pytest.mark.both_databases

URL = "/cds-services/ketamine-order-sign/feedback"
CARD = "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11"
REASON = {
    "system": "https://ketamine-cds.org/fhir/CodeSystem/ketamine-cds",
    "code": "benefit-outweighs-risk",
    "display": "Benefit outweighs risk",
}
VALID_BODIES: list[dict[str, Any]] = [
    {  # the spec's shape: accepted with a suggestion, overridden with reason and comment
        "feedback": [
            {
                "card": CARD,
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "c1d2e3f4-0a1b-4c2d-8e3f-123456789abc"}],
                "outcomeTimestamp": "2026-03-02T10:05:31Z",
            },
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {"reason": REASON, "userComment": "Discussed with patient"},
                "outcomeTimestamp": "2026-03-02T10:06:00+01:00",
            },
        ]
    },
    {  # the Sandbox: bare reason code, milliseconds
        "feedback": [
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {"code": "patient-declined", "system": REASON["system"]},
                "outcomeTimestamp": "2026-03-02T10:06:00.123Z",
            }
        ]
    },
    {  # no offset (taken as UTC), a comment alone
        "feedback": [
            {
                "card": "card-2",
                "outcome": "overridden",
                "overrideReason": {"userComment": "not now"},
                "outcomeTimestamp": "2026-03-02T10:06:00",
            }
        ]
    },
]


@pytest.fixture
def feedback_client(make_app: Any) -> Any:
    return make_app().test_client()


def send(client: Any, document: Any, how: str) -> tuple[int, Any]:
    body = encode(document, how)
    with server_errors() as errors:
        status, answer = post(client, URL, body, errors)
    assert status in FEEDBACK_STATUSES, status
    if has_lone_surrogate(document) and status != 413:  # not JSON text, however encoded
        assert answer["issue"][0]["details"]["coding"][0]["code"] == "invalid-json"
    if status == 200:  # the items as sent: a mutation can leave them nested (mutations.Nested)
        items = orjson.loads(body)["feedback"]
        assert answer["received"] == len(items)
        assert 0 <= answer["stored"] <= answer["received"]
    return status, answer


def check_stored_once(client: Any, document: Any, how: str, *, fresh: bool = False) -> None:
    """Accepted feedback is stored once: every item when its cards are new to the database
    (``fresh``), and none when it is sent again."""
    status, answer = send(client, document, how)
    if status == 200:
        if fresh:
            assert answer["stored"] == answer["received"]
        again_status, again = send(client, document, how)
        assert again_status == 200
        assert again["stored"] == 0


def with_new_cards(document: dict[str, Any]) -> dict[str, Any]:
    """The examples share one database, so each gets cards no other example has used."""
    for item in document["feedback"]:
        item["card"] = str(uuid.uuid4())
    return document


@examples(3)
@given(data=st.data())
def test_mutated_feedback(feedback_client: Any, data: st.DataObject) -> None:
    document = mutate(data.draw, VALID_BODIES)
    check_stored_once(feedback_client, document, data.draw(st.sampled_from(ENCODINGS)))


TIMESTAMP_FORMS = [
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S.%fZ",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S+14:00",
    "%Y-%m-%dT%H:%M:%S-12:00",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dt%H:%M:%Sz",
]
ODD_TIMESTAMPS = [
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-12:00",  # after year 9999 in UTC
    "2026-02-30T10:00:00Z",
    "2026-03-02T24:00:00Z",
    "2026-03-02T10:00:60Z",
    "2026-03-02T10:00:00+24:00",
    "2026-03-02T10:00:00.1234567891Z",
    "2026-03-02T10:00:00Z\u0000",
    "\uff12\uff10\uff12\uff16-03-02T10:00:00Z",
    "",
]


@st.composite
def timestamps(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return draw(st.sampled_from(ODD_TIMESTAMPS) | st.integers() | st.none())
    moment = draw(st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30)))
    form = draw(st.sampled_from(TIMESTAMP_FORMS))
    return moment.strftime(form.replace("%Y", f"{moment.year:04d}"))  # %Y leaves "5", not "0005"


@examples(2)
@given(data=st.data())
def test_feedback_strings_and_timestamps(feedback_client: Any, data: st.DataObject) -> None:
    """Card ids, codes and comments of any length and content; timestamps at the edges."""
    document = with_new_cards(pick(data.draw, VALID_BODIES))
    item = document["feedback"][0]
    text = st.sampled_from(ODD_TEXT) | st.text(max_size=10) | st.integers(1, 5000).map("x".__mul__)
    item["outcomeTimestamp"] = data.draw(timestamps(), label="timestamp")
    odd_card = data.draw(st.booleans())
    if odd_card:
        item["card"] = data.draw(text, label="card")
    if data.draw(st.booleans()):
        item["overrideReason"] = {
            "reason": {"code": data.draw(text), "system": data.draw(text)},
            "userComment": data.draw(text),
        }
        item["outcome"] = "overridden"
    if item["outcome"] == "accepted" and data.draw(st.booleans()):
        item["acceptedSuggestions"] = [{"id": data.draw(text)}]
    note(str(item)[:300])
    how = data.draw(st.sampled_from(ENCODINGS))
    check_stored_once(feedback_client, document, how, fresh=not odd_card)


@examples(1)
@given(offset=st.integers(-14 * 60, 14 * 60), micros=st.integers(0, 999_999))
def test_the_same_instant_in_any_offset_is_stored_once(
    feedback_client: Any, offset: int, micros: int
) -> None:
    """An item is the same when its timestamp names the same instant, whatever the offset."""
    instant = datetime(2026, 3, 2, 10, 6, 0, micros, tzinfo=UTC)
    shifted = instant.astimezone(timezone(timedelta(minutes=offset)))
    item = {"card": str(uuid.uuid4()), "outcome": "overridden"}
    item["overrideReason"] = {"userComment": "x"}
    first = {**item, "outcomeTimestamp": instant.isoformat().replace("+00:00", "Z")}
    second = {**item, "outcomeTimestamp": shifted.isoformat()}
    status, answer = send(feedback_client, {"feedback": [first]}, "utf-8")
    assert (status, answer["stored"]) == (200, 1)
    status, answer = send(feedback_client, {"feedback": [second]}, "utf-8")
    assert (status, answer["stored"]) == (200, 0)

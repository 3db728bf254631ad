"""The fixture loader moves every date so that demos give the same answers on any day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cds_service.app import create_app
from cds_service.fixture_loader import ANCHOR, fixture_names, load_fixture, shift_dates
from tests.scenarios import SCENARIOS


def test_shift_moves_dates_and_datetimes_but_not_codes_or_ids() -> None:
    document = {
        "birthDate": "1984-07-19",
        "effectiveDateTime": "2026-02-23T09:40:00-05:00",
        "id": "2026-01-01",
        "code": "2026-01-01",
        "issued": "2026-02-23T09:40:00.123Z",
        "note": "seen 2026-02-23",
        "year": "2025",
    }
    moved = shift_dates(document, 10)
    assert moved == {
        **document,
        "birthDate": "1984-07-29",
        "effectiveDateTime": "2026-03-05T09:40:00-05:00",
        "issued": "2026-03-05T09:40:00.123Z",
    }
    assert document["birthDate"] == "1984-07-19"


def test_every_scenario_ships_as_package_data() -> None:
    assert set(fixture_names("patients")) >= {s.name for s in SCENARIOS}
    assert set(fixture_names("requests/patient-view")) == {
        s.name for s in SCENARIOS if s.hook == "patient-view"
    }
    assert set(fixture_names("requests/order-sign")) == {
        s.name for s in SCENARIOS if s.hook == "order-sign"
    }


def test_unknown_or_unsafe_names_are_refused() -> None:
    with pytest.raises(KeyError, match="no patients fixture"):
        load_fixture("patients", "nobody")
    with pytest.raises(ValueError):
        load_fixture("patients", "../pyproject")


@pytest.mark.parametrize(
    "name",
    [
        "contraindicated-pregnant-with-high-bp",
        "defer-recent-nstemi",
        "not-indicated-age-16",
        "suicidal-ideation-one-trial",
    ],
)
def test_a_shifted_fixture_gives_the_anchor_answer_on_a_later_day(make_settings, name) -> None:
    later = date(2026, 11, 28)
    app = create_app(make_settings(), clock=lambda: datetime(2026, 11, 28, 9, tzinfo=UTC))
    anchor_app = create_app(make_settings(), clock=lambda: datetime(2026, 3, 2, 9, tzinfo=UTC))

    def outcome(application, request):
        cards = (
            application.test_client()
            .post("/cds-services/ketamine-trd-patient-view", json=request)
            .json["cards"]
        )
        return [
            (
                c["indicator"],
                c["extension"]["org.ketamine-cds.assessment"]["decision"],
                sorted(
                    r["code"]
                    for r in c["extension"]["org.ketamine-cds.assessment"].get("reasons", [])
                ),
            )
            for c in cards
        ]

    shifted = load_fixture("requests/patient-view", name, shift_to=later)
    original = load_fixture("requests/patient-view", name)
    assert outcome(app, shifted) == outcome(anchor_app, original)
    assert outcome(app, original) != outcome(app, shifted)  # unshifted, the data would be stale
    assert load_fixture("patients", name, shift_to=ANCHOR) == load_fixture("patients", name)

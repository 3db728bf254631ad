"""values: the date readers, and the one-parse reader the observations use."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.record.values import parse_date, parse_date_and_instant, parse_instant

PIECES = ["2024", "1849", "2201", "-", "02", "13", "29", "30", "T", "08:15", ":00", ":60"]
PIECES += ["Z", "+05:30", "-14:00", ".123", " ", "x", "24:00", "\u0662"]


@pytest.mark.parametrize(
    ("text", "day", "instant"),
    [
        ("2024-09-17", date(2024, 9, 17), datetime(2024, 9, 17, tzinfo=UTC)),
        ("2024-09-17T23:30:00-05:00", date(2024, 9, 17), datetime(2024, 9, 18, 4, 30, tzinfo=UTC)),
        ("2024-09-17T08:15:00Z", date(2024, 9, 17), datetime(2024, 9, 17, 8, 15, tzinfo=UTC)),
        ("2024-09", date(2024, 9, 1), datetime(2024, 9, 1, tzinfo=UTC)),
        ("2024-02-30T08:00:00Z", None, None),
        ("1849-12-31T08:00:00Z", None, None),
        ("not a date", None, None),
        ("\u0662\u0660\u0662\u0664-\u0660\u0669-\u0661\u0667", None, None),  # Arabic-Indic
        ("\uff12\uff10\uff12\uff14-09", None, None),  # fullwidth digits
    ],
)
def test_the_date_is_the_one_written_and_the_instant_is_utc(text, day, instant) -> None:
    assert parse_date_and_instant(text) == (day, instant)


@given(st.one_of(st.lists(st.sampled_from(PIECES), max_size=9).map("".join), st.text(max_size=30)))
def test_one_parse_agrees_with_the_two_readers(text: str) -> None:
    assert parse_date_and_instant(text) == (parse_date(text), parse_instant(text))

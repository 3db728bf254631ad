"""Load the bundled fixtures, optionally moved in time so that a demo never goes stale.

Fixtures are written against ``ANCHOR`` (2026-03-02; fixtures/README.md). ``shift_to=today``
moves every full date and dateTime by (today - anchor), birth dates included, so ages, windows and
durations look the same on any day (fixtures/README.md).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import date, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

__all__ = ["ANCHOR", "fixture_names", "load_fixture", "shift_dates"]

ANCHOR = date(2026, 3, 2)
_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")
_NOT_DATES = {"id", "code", "system", "reference", "fullUrl", "url", "hookInstance"}


def _root() -> Traversable:
    return files("cds_service.fixtures")


def fixture_names(kind: str = "patients") -> list[str]:
    """Names of the fixtures of one kind (``patients``, ``expected``, ``requests/patient-view``)."""
    folder = _root()
    for part in kind.split("/"):
        folder = folder / part
    return sorted(
        e.name.removesuffix(".json") for e in folder.iterdir() if e.name.endswith(".json")
    )


def load_fixture(kind: str, name: str, *, shift_to: date | None = None) -> dict[str, Any]:
    """A fixture document; with ``shift_to``, its dates moved from the anchor to that day."""
    if not re.fullmatch(r"[a-z0-9-]+", name):
        raise ValueError(f"invalid fixture name {name!r}")
    folder = _root()
    for part in kind.split("/"):
        folder = folder / part
    path = folder / f"{name}.json"
    if not path.is_file():
        raise KeyError(f"no {kind} fixture {name!r}; known: {fixture_names(kind)}")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if shift_to is None or shift_to == ANCHOR:
        return document
    shifted: dict[str, Any] = shift_dates(document, (shift_to - ANCHOR).days)
    return shifted


def shift_dates(document: Any, days: int) -> Any:
    """A copy of ``document`` with every full date or dateTime string moved by ``days``.

    Usage: ``shift_dates({"onsetDateTime": "2026-03-01T10:00:00Z"}, 1)``
    ``# {"onsetDateTime": "2026-03-02T10:00:00Z"}``
    """

    def walk(value: Any, key: str | None) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str) and key not in _NOT_DATES:
            match = _DATE.match(value)
            if match:
                try:
                    moved = date.fromisoformat(match.group(1)) + timedelta(days=days)
                except ValueError:
                    return value
                return moved.isoformat() + (match.group(2) or "")
        return value

    return walk(copy.deepcopy(document), None)

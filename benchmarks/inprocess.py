"""In-process cost of one patient-view call, from request bytes to response bytes, by stage.

The call goes through the real app (Flask test client, authentication on with an ES384 token,
audit row written). Stage boundaries are taken by wrapping the two functions the patient-view
handler calls, ``record_for`` and ``assess``:

* parse: everything before the record is built (auth, JSON parse, request models, prefetch)
* record: FHIR resources to the PatientRecord
* clinical: the rules (``assess``)
* cards: card texts, the response document and its JSON, and the audit row
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import cds_service.app as app_module
import cds_service.protocol.audit as audit_module
import cds_service.services as services

STAGES = ("parse", "record", "clinical", "cards")
WRITES = ("jti", "audit")  # the two database writes of every call, inside parse and cards
EXPECTED_DECISION = "candidate"  # what benchmarks/charts.py keeps every chart reading as


@dataclass
class StageTimes:
    size: int
    samples: dict[str, list[float]]

    def median_ms(self, stage: str) -> float:
        """Median of a stage, or of one of the WRITES."""
        return statistics.median(self.samples[stage]) * 1000

    @property
    def total_ms(self) -> float:
        totals = [sum(parts) for parts in zip(*(self.samples[s] for s in STAGES), strict=True)]
        return float(statistics.median(totals)) * 1000


# (module, function, mark): the functions timed by wrapping them where the service looks them up.
_TIMED = (
    (services, "record_for", "record_for"),
    (services, "assess", "assess"),
    (app_module, "remember_jti", "jti"),
    (audit_module, "record_audit", "audit"),
)


@contextmanager
def _stage_clock(marks: dict[str, float]) -> Iterator[None]:
    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            marks[f"{name}_start"] = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                marks[f"{name}_end"] = time.perf_counter()

        return wrapper

    originals = [(module, attr, getattr(module, attr)) for module, attr, _ in _TIMED]
    for (module, attr, original), (_, _, mark) in zip(originals, _TIMED, strict=True):
        setattr(module, attr, timed(mark, original))
    try:
        yield
    finally:
        for module, attr, original in originals:
            setattr(module, attr, original)


def decisions(response: dict[str, Any]) -> list[str]:
    """The ``decision`` each card files in its extension."""
    return [
        value["decision"]
        for card in response.get("cards", [])
        for value in (card.get("extension") or {}).values()
        if isinstance(value, dict) and isinstance(value.get("decision"), str)
    ]


def measure_stages(
    client: Any, path: str, body: bytes, headers: Callable[[], dict[str, str]], size: int, runs: int
) -> StageTimes:
    """Median stage times over ``runs`` calls, after a short warm-up."""
    samples: dict[str, list[float]] = {name: [] for name in (*STAGES, *WRITES)}
    marks: dict[str, float] = {}
    with _stage_clock(marks):
        for n in range(runs + 3):
            marks.clear()
            start = time.perf_counter()
            response = client.post(path, data=body, headers=headers())
            end = time.perf_counter()
            if response.status_code != 200:
                raise SystemExit(f"in-process call failed: {response.status_code} {response.text}")
            if n == 0 and EXPECTED_DECISION not in decisions(response.get_json()):
                raise SystemExit(
                    f"the {size}-resource chart no longer reads as {EXPECTED_DECISION!r}: "
                    f"{decisions(response.get_json())}"
                )
            if n < 3:
                continue
            samples["parse"].append(marks["record_for_start"] - start)
            samples["record"].append(marks["record_for_end"] - marks["record_for_start"])
            samples["clinical"].append(marks["assess_end"] - marks["assess_start"])
            samples["cards"].append(end - marks["assess_end"])
            for write in WRITES:
                samples[write].append(marks[f"{write}_end"] - marks[f"{write}_start"])
    return StageTimes(size, samples)

"""The worst case each input limit allows, in process, so that a cost that grows faster than
its input shows here rather than in production.

Each shape grows one part of a request, in doubling steps, up to the limit that caps it:
the codings of one Observation, the components of one Observation, the codings of one
Condition and of one MedicationRequest, each up to the body-size limit
(KETAMINE_CDS_MAX_BODY_BYTES); and the draft orders of an order-sign call, up to
KETAMINE_CDS_MAX_DRAFT_ORDERS, whose cards KETAMINE_CDS_MAX_CARDS caps. The cost per unit
should stay flat as the input doubles: a shape is *linear* when the cost per unit at the largest
step is at most twice that at the smallest. (The bundle-entry limit is the chart-size grid of
``benchmarks/run.py``, up to 5,000 resources.)

``python -m benchmarks.limits`` prints the table and refreshes its section of BENCHMARKS.md;
``make bench`` writes it with the rest.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.charts import chart_request
from benchmarks.tokens import TokenMint
from cds_service.app import create_app
from cds_service.config import Settings
from cds_service.gunicorn_conf import tune_garbage_collector

BASE = "https://cds.example.org"
STEPS = 4  # doubling steps, the last at the limit
RUNS = 5
LINEAR_RATIO = 2.0
SECTION = "## Worst cases each input limit allows"
LOINC = "http://loinc.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


@dataclass
class Step:
    units: int
    body_kb: int
    ms: float
    cards: int

    @property
    def us_per_unit(self) -> float:
        return self.ms * 1000 / self.units


@dataclass
class ShapeResult:
    name: str
    unit: str
    limit: str
    steps: list[Step]

    @property
    def ratio(self) -> float:
        return self.steps[-1].us_per_unit / self.steps[0].us_per_unit

    @property
    def linear(self) -> bool:
        return self.ratio <= LINEAR_RATIO


def _subject(request: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"Patient/{request['context']['patientId']}"}


def _add(request: dict[str, Any], key: str, resource: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(request)
    out["prefetch"][key].setdefault("entry", []).append({"resource": resource})
    return out


def observation_codings(base: dict[str, Any], n: int, run: int = 0) -> dict[str, Any]:
    codings = [{"system": LOINC, "code": f"{run}{10000 + i}-{i % 10}"} for i in range(n - 1)]
    return _add(
        base,
        "observations",
        {
            "resourceType": "Observation",
            "id": "worst-codings",
            "status": "final",
            "subject": _subject(base),
            "code": {"coding": [*codings, {"system": LOINC, "code": "44261-6"}]},
            "effectiveDateTime": "2020-01-01",
            "valueQuantity": {"value": 12},
        },
    )


def observation_components(base: dict[str, Any], n: int, run: int = 0) -> dict[str, Any]:
    return _add(
        base,
        "observations",
        {
            "resourceType": "Observation",
            "id": "worst-components",
            "status": "final",
            "subject": _subject(base),
            "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
            "effectiveDateTime": "2020-01-01",
            "component": [
                {
                    "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                    "valueQuantity": {"value": 120 + (i + run) % 7},
                }
                for i in range(n)
            ],
        },
    )


def condition_codings(base: dict[str, Any], n: int, run: int = 0) -> dict[str, Any]:
    return _add(
        base,
        "conditions",
        {
            "resourceType": "Condition",
            "id": "worst-codings",
            "subject": _subject(base),
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": ICD10, "code": f"Z{run}{i:06d}"} for i in range(n)]},
            "onsetDateTime": "2020-01-01",
        },
    )


def medication_codings(base: dict[str, Any], n: int, run: int = 0) -> dict[str, Any]:
    return _add(
        base,
        "medicationRequests",
        {
            "resourceType": "MedicationRequest",
            "id": "worst-codings",
            "status": "completed",
            "intent": "order",
            "subject": _subject(base),
            "authoredOn": "2020-01-01",
            "medicationCodeableConcept": {
                "coding": [{"system": RXNORM, "code": f"{run}{900000 + i}"} for i in range(n)]
            },
        },
    )


def draft_orders(base: dict[str, Any], n: int, run: int = 0) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out["hook"] = "order-sign"
    out["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": _spravato(f"draft-{run}-{i}", _subject(base))} for i in range(n)],
    }
    return out


def _spravato(draft_id: str, subject: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": draft_id,
        "status": "draft",
        "intent": "order",
        "subject": subject,
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": "2119391", "display": "Spravato 56 MG Dose Kit"}]
        },
        "dosageInstruction": [
            {
                "text": "56 mg intranasally twice weekly",
                "doseAndRate": [{"doseQuantity": {"value": 56, "unit": "mg"}}],
            }
        ],
    }


Builder = Callable[[dict[str, Any], int, int], dict[str, Any]]
BODY_SHAPES: list[tuple[str, str, Builder]] = [
    ("one Observation, many codings", "coding", observation_codings),
    ("one Observation, many components", "component", observation_components),
    ("one Condition, many codings", "coding", condition_codings),
    ("one MedicationRequest, many codings", "coding", medication_codings),
]


def _fill(build: Builder, base: dict[str, Any], max_bytes: int) -> int:
    """The largest unit count whose request stays under ``max_bytes``."""
    small = len(json.dumps(build(base, 1000, RUNS)))
    empty = len(json.dumps(build(base, 0, RUNS)))
    per_unit = (small - empty) / 1000
    units = int((max_bytes * 0.98 - empty) / per_unit)
    while len(json.dumps(build(base, units, RUNS))) > max_bytes:
        units = int(units * 0.98)
    return units


def measure(settings_overrides: dict[str, Any] | None = None) -> list[ShapeResult]:
    today = date.today()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        mint = TokenMint(tmp)
        settings = Settings(
            data_dir=tmp / "data",
            public_base_url=BASE,
            trusted_issuers=mint.trusted_issuers(),
            log_level="WARNING",
            **(settings_overrides or {}),
        )
        app = create_app(settings)
        client = app.test_client()
        tune_garbage_collector()
        base = chart_request(10, today)

        def time_call(hook_path: str, bodies: list[bytes]) -> tuple[float, int]:
            samples = []
            cards = 0
            for body in bodies:
                headers = {
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {mint.token(BASE + hook_path)}",
                }
                start = time.perf_counter()
                response = client.post(hook_path, data=body, headers=headers)
                samples.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{hook_path}: {response.status_code} {response.text[:300]}")
                cards = len(response.get_json()["cards"])
            return statistics.median(samples) * 1000, cards

        def run(hook_path: str, build: Builder, units: int) -> Step:
            # New codes on every run: a memo hit on a repeated body is not the worst case.
            bodies = [json.dumps(build(base, units, n)).encode() for n in range(RUNS)]
            ms, cards = time_call(hook_path, bodies)
            return Step(units, max(map(len, bodies)) // 1024, ms, cards)

        results = []
        view = "/cds-services/ketamine-trd-patient-view"
        for label, unit, build in BODY_SHAPES:
            top = _fill(build, base, settings.max_body_bytes)
            steps = [run(view, build, top >> (STEPS - 1 - i)) for i in range(STEPS)]
            results.append(ShapeResult(label, unit, "body size", steps))
            print(_line(results[-1]), flush=True)
        sign = "/cds-services/ketamine-order-sign"
        top = settings.max_draft_orders
        steps = [run(sign, draft_orders, max(1, top >> (STEPS - 1 - i))) for i in range(STEPS)]
        results.append(ShapeResult("order-sign, esketamine drafts", "draft", "draft orders", steps))
        print(_line(results[-1]), flush=True)
        app.extensions["ketamine_cds"].db.dispose()
    return results


def _line(result: ShapeResult) -> str:
    last = result.steps[-1]
    return (
        f"{result.name}: {last.units:,} {result.unit}s, {last.body_kb:,} KB, {last.ms:.0f} ms, "
        f"{result.ratio:.2f}x per-unit cost from smallest to largest"
    )


def section(results: list[ShapeResult]) -> list[str]:
    """The BENCHMARKS.md section: one row per step, and a verdict per shape."""
    lines = [
        SECTION,
        "",
        "`benchmarks/limits.py`, in process, authentication on, median of "
        f"{RUNS} calls. Each shape doubles one part of a request up to the limit that caps it. "
        f"*Linear* means the cost per unit at the limit is at most {LINEAR_RATIO:.0f}x the cost "
        "per unit at the smallest step.",
        "",
        "| shape | limit | units | body KB | ms | µs per unit | cards |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for step in result.steps:
            lines.append(
                f"| {result.name} | {result.limit} | {step.units:,} {result.unit}s | "
                f"{step.body_kb:,} | {step.ms:.1f} | {step.us_per_unit:.2f} | {step.cards} |"
            )
    lines += ["", "| shape | per-unit cost, largest / smallest step | verdict |", "|---|---:|---|"]
    for result in results:
        verdict = "linear" if result.linear else "**grows faster than its input**"
        lines.append(f"| {result.name} | {result.ratio:.2f}x | {verdict} |")
    return lines


def replace_section(report: Path, lines: list[str]) -> None:
    """Put the section in the report in place of the one there, or at its end."""
    text = report.read_text(encoding="utf-8") if report.is_file() else "# Benchmarks\n"
    head, found, tail = text.partition(SECTION)
    following = ""
    if found and "\n## " in tail:
        following = tail[tail.index("\n## ") + 1 :]
    out = head.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    report.write_text(out + ("\n" + following if following else ""), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("BENCHMARKS.md"))
    args = parser.parse_args()
    results = measure()
    replace_section(args.output, section(results))
    print(f"updated {args.output}")
    if not all(r.linear for r in results):
        raise SystemExit("a shape's cost grows faster than its input")


if __name__ == "__main__":
    main()

"""The FHIR fallback's time budget, against a FHIR server made slow on purpose.

A patient-view arrives with ``fhirServer`` and no prefetch, as the Sandbox sends it. The FHIR
server is ``ketamine-cds fhir-server``'s app on loopback with a delay injected before every
answer. The service (gunicorn, auth on) must answer within its budget plus a small margin,
with the cards when the data arrived in time and a 412 when it did not, and its workers must
stay free: ``/healthz`` is timed while slow calls are in flight.
"""

from __future__ import annotations

import json
import logging
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

from benchmarks.server import Server
from benchmarks.tokens import TokenMint
from cds_service.fhirserver import FhirStore, create_fhir_app
from cds_service.fixture_loader import load_fixture

PATH = "/cds-services/ketamine-trd-patient-view"
MARGIN_S = 0.25  # over the budget, for everything but the callbacks (report.py's verdict)
ANSWERS = {200, 412}  # cards from the fetched data, or "required data not available"


@dataclass
class BudgetResult:
    delay_s: float
    calls: int
    statuses: dict[int, int]
    p50_ms: float
    max_ms: float
    healthz_max_ms: float


class SlowFhirServer:
    """The fixture FHIR server, answering every request after ``delay_s``."""

    def __init__(self) -> None:
        directory = Path(str(files("cds_service.fixtures") / "patients"))
        app = create_fhir_app(FhirStore.from_directory(directory, date.today()))
        self.delay_s = 0.0

        def slow(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            time.sleep(self.delay_s)
            return app(environ, start_response)

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server = make_server("127.0.0.1", 0, slow, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()


def _call(service: Server, body: bytes, token: str) -> tuple[int, float]:
    request = urllib.request.Request(
        service.base + PATH,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
            response.read()
    except urllib.error.HTTPError as exc:
        status = exc.code
    return status, (time.perf_counter() - start) * 1000


def _healthz_ms(service: Server) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(service.base + "/healthz", timeout=30) as response:
        response.read()
    return (time.perf_counter() - start) * 1000


def measure_budget(
    service: Server,
    fhir: SlowFhirServer,
    mint: TokenMint,
    delays: list[float],
    calls: int,
    parallel: int,
) -> list[BudgetResult]:
    """Calls sent ``parallel`` at a time (one per worker, so none waits in gunicorn's queue)."""
    request = load_fixture(
        "requests/patient-view", "candidate-two-failed-trials", shift_to=date.today()
    )
    request.pop("prefetch", None)
    request["fhirServer"] = fhir.base
    body = json.dumps(request).encode()
    results = []
    for delay in delays:
        fhir.delay_s = delay
        tokens = [mint.token(service.base + PATH) for _ in range(calls)]
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = [pool.submit(_call, service, body, t) for t in tokens]
            time.sleep(0.05)
            healthz = [_healthz_ms(service) for _ in range(5)]
            answers = [f.result() for f in futures]
        statuses = dict(Counter(status for status, _ in answers))
        times = [ms for _, ms in answers]
        results.append(
            BudgetResult(delay, calls, statuses, statistics.median(times), max(times), max(healthz))
        )
    fhir.delay_s = 0.0
    return results

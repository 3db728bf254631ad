"""Prometheus metrics at ``/metrics`` (issue 6): requests, latency, cards, FHIR callbacks.

Under gunicorn each worker is its own process, so ``ketamine-cds serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before prometheus_client is first imported
(cli.py) and the endpoint sums all workers; in a single process the default registry is used.
Labels are bounded: the service label is a registered id or "unknown", and topics and
decisions come from this code.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

from cds_service.protocol.audit import card_decision, card_topic

__all__ = [
    "FHIR_CALLBACKS",
    "FHIR_FAILURES",
    "prepare_multiprocess_dir",
    "register_metrics",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "ketamine_cds_requests",
    "Hook calls by service, hook and HTTP status.",
    ["service", "hook", "status"],
)
LATENCY = Histogram(
    "ketamine_cds_request_seconds", "Hook call latency in seconds.", ["service"], buckets=SECONDS
)
CARDS = Counter("ketamine_cds_cards", "Cards sent, by topic and decision.", ["topic", "decision"])
FHIR_CALLBACKS = Histogram(
    "ketamine_cds_fhir_callback_seconds",
    "FHIR callback latency by resource type and HTTP status.",
    ["resource", "status"],
    buckets=SECONDS,
)
FHIR_FAILURES = Counter(
    "ketamine_cds_fhir_callback_failures", "FHIR callbacks that failed, by kind.", ["kind"]
)


def prepare_multiprocess_dir() -> None:
    """Create the configured multiprocess directory if it is missing: without it every worker's
    first count fails, and so does ``/metrics``. ValueError when it cannot be used."""
    configured = os.environ.get(MULTIPROC_ENV)
    if not configured:
        return
    directory = Path(configured)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"{MULTIPROC_ENV}={configured} is a file, not a directory") from None
    except OSError as exc:
        raise ValueError(
            f"{MULTIPROC_ENV}={configured}: the directory cannot be created ({exc.strerror})"
        ) from None
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ValueError(f"{MULTIPROC_ENV}={configured}: the directory is not writable")


def register_metrics(app: Flask, service_ids: set[str]) -> None:
    prepare_multiprocess_dir()

    @app.after_request
    def count(response: Response) -> Response:
        if request.endpoint != "cds.call_service":
            return response
        service = str((request.view_args or {}).get("service_id"))
        service = service if service in service_ids else "unknown"
        hook = g.get("log_fields", {}).get("hook", "-")
        REQUESTS.labels(service, hook, str(response.status_code)).inc()
        LATENCY.labels(service).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        for card in g.get("audit_cards", []):
            CARDS.labels(card_topic(card) or "-", card_decision(card) or "-").inc()
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        if os.environ.get(MULTIPROC_ENV):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        else:
            registry = REGISTRY
        return Response(generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

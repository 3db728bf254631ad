"""The floor: a bare Flask route under the service's own gunicorn settings.

It parses the body with Flask's default ``request.get_json()`` and returns one fixed card, so
the difference between it and the service is what the service itself costs.
``python -m benchmarks.floor --bind 127.0.0.1:9001 --workers 2``
"""

from __future__ import annotations

import argparse
from typing import Any

from flask import Flask, jsonify, request

CARD = {
    "cards": [
        {
            "uuid": "6f1f0b3c-9d3e-4a53-a2b0-5a2f3f0e7c11",
            "summary": "Meets TRD criteria: ketamine/esketamine is a reasonable next step",
            "indicator": "info",
            "source": {"label": "floor"},
        }
    ]
}


def create_floor_app() -> Flask:
    app = Flask(__name__)

    @app.post("/cds-services/<service_id>")
    def call(service_id: str) -> Any:
        body = request.get_json()
        if not isinstance(body, dict) or "hook" not in body:
            return jsonify({"error": "not a hook request"}), 400
        return jsonify(CARD)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok"})

    return app


def main() -> None:
    from cds_service.cli import run_gunicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    run_gunicorn(create_floor_app, bind=args.bind, workers=args.workers)


if __name__ == "__main__":
    main()

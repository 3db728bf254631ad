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
    from gunicorn.app.base import BaseApplication

    from cds_service import gunicorn_conf

    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args()
    options = {k: v for k, v in vars(gunicorn_conf).items() if not k.startswith("_")}
    options.pop("os", None)
    options.pop("child_exit", None)
    options.update(bind=args.bind, workers=args.workers)

    class Floor(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                if key in self.cfg.settings and value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return create_floor_app()

    Floor().run()


if __name__ == "__main__":
    main()

"""A read-only FHIR R4 server over fixture Bundles, for running the CDS Hooks Sandbox offline.

``ketamine-cds fhir-server [DIR]`` serves every ``*.json`` Bundle in DIR (default: the bundled
``fixtures/patients``), with dates moved to today so the demo patients never go stale
(fixtures/README.md). It is open and has CORS on every origin: it holds only synthetic data.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, request
from flask_cors import CORS

from cds_service.fhirserver.search import SUPPORTED, SearchError, check, matches, unsupported
from cds_service.fhirserver.smart import add_smart_mode
from cds_service.fixture_loader import ANCHOR, shift_dates

__all__ = ["FhirStore", "create_fhir_app"]

FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 50
MAX_COUNT = 500


class FhirStore:
    """Resources by type and id, from Bundles; the first copy of a (type, id) wins."""

    def __init__(self, bundles: list[dict[str, Any]]) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        for bundle in bundles:
            for entry in bundle.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if (
                    isinstance(resource, dict)
                    and resource.get("resourceType")
                    and resource.get("id")
                ):
                    by_id = self.resources.setdefault(resource["resourceType"], {})
                    by_id.setdefault(resource["id"], resource)

    @classmethod
    def from_directory(cls, directory: Path, today: date) -> FhirStore:
        bundles = []
        for path in sorted(directory.glob("*.json")):
            document = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(document, dict) and document.get("resourceType") == "Bundle":
                bundles.append(shift_dates(document, (today - ANCHOR).days))
        if not bundles:
            raise ValueError(f"no FHIR Bundles (*.json) in {directory}")
        return cls(bundles)


def _outcome(status: int, code: str, text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), mimetype=FHIR_JSON)


def create_fhir_app(store: FhirStore, *, smart: bool = False) -> Flask:
    """The server; with ``smart``, also the SMART test double (``app.extensions["smart"]``)."""
    app = Flask(__name__)
    CORS(app, origins="*", allow_headers=["Authorization", "Content-Type", "Accept"])
    if smart:
        app.extensions["smart"] = add_smart_mode(app, set(store.resources.get("Patient", {})))

    @app.get("/metadata")
    def metadata() -> Response:
        return _json(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": datetime.now(UTC).date().isoformat(),
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "software": {"name": "ketamine-cds fixture FHIR server"},
                "rest": [
                    {
                        "mode": "server",
                        "resource": [
                            {
                                "type": rtype,
                                "interaction": [{"code": "read"}, {"code": "search-type"}],
                                "searchParam": [
                                    {"name": p, "type": "string"} for p in sorted(SUPPORTED)
                                ],
                            }
                            for rtype in sorted(store.resources)
                        ],
                    }
                ],
            }
        )

    @app.get("/<rtype>/<rid>")
    def read(rtype: str, rid: str) -> Response:
        resource = store.resources.get(rtype, {}).get(rid)
        if resource is None:
            return _outcome(404, "not-found", f"{rtype}/{rid} is not on this server")
        return _json(resource)

    @app.route("/<rtype>", methods=["GET"])
    @app.route("/<rtype>/_search", methods=["POST"])
    def search(rtype: str) -> Response:
        if not rtype[:1].isupper():
            return _outcome(404, "not-found", f"{rtype} is not a resource type")
        params = list(request.args.items(multi=True))
        if request.method == "POST":
            params += list(request.form.items(multi=True))
        try:
            count = min(MAX_COUNT, max(0, int(dict(params).get("_count", DEFAULT_COUNT))))
            offset = max(0, int(dict(params).get("_offset", 0)))
            check(params)
        except SearchError as exc:
            return _outcome(400, "not-supported", str(exc))
        except ValueError:
            return _outcome(400, "invalid", "_count and _offset must be integers")
        found = [r for r in store.resources.get(rtype, {}).values() if matches(r, params)]
        page = found[offset : offset + count]
        base = request.host_url.rstrip("/")
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(found),
            "link": [{"relation": "self", "url": request.url}],
            "entry": [
                {"fullUrl": f"{base}/{rtype}/{r['id']}", "resource": r, "search": {"mode": "match"}}
                for r in page
            ],
        }
        if count and offset + count < len(found):
            query = [(k, v) for k, v in params if k != "_offset"] + [
                ("_offset", str(offset + count))
            ]
            bundle["link"].append({"relation": "next", "url": f"{base}/{rtype}?{urlencode(query)}"})
        ignored = unsupported(k for k, _ in params)
        if ignored:
            bundle["entry"].append(
                {
                    "resource": {
                        "resourceType": "OperationOutcome",
                        "issue": [
                            {
                                "severity": "warning",
                                "code": "not-supported",
                                "diagnostics": f"ignored search parameters: {', '.join(ignored)}",
                            }
                        ],
                    },
                    "search": {"mode": "outcome"},
                }
            )
        if not bundle["entry"]:
            del bundle["entry"]
        return _json(bundle)

    return app

"""Check every response against our JSON Schemas and the no-null/no-empty rule (G-02/G-03)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SCHEMA_DIR = Path(__file__).parent / "schemas"
_SCHEMAS = {
    p.name.removesuffix(".schema.json"): json.loads(p.read_text())
    for p in SCHEMA_DIR.glob("*.schema.json")
}
_REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in _SCHEMAS.values()
)
VALIDATORS = {name: Draft202012Validator(s, registry=_REGISTRY) for name, s in _SCHEMAS.items()}

_SERVICE = re.compile(r"^/cds-services/[^/]+$")
_FEEDBACK = re.compile(r"^/cds-services/[^/]+/feedback$")


def validate(schema: str, document: Any) -> None:
    errors = sorted(VALIDATORS[schema].iter_errors(document), key=lambda e: list(e.path))
    if errors:
        raise AssertionError(
            f"{schema} schema violated:\n"
            + "\n".join(f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
        )


def empties(value: Any, path: str = "") -> list[str]:
    """Paths of nulls and empty strings, arrays and objects, except top-level cards/services."""
    found: list[str] = []
    if value is None or value in ("", [], {}):
        if path not in ("/cards", "/services"):
            found.append(path or "/")
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            found += empties(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += empties(item, f"{path}/{index}")
    return found


def schema_for(method: str, path: str, status: int) -> str | None:
    if path == "/healthz":
        return None
    if status >= 400:
        return "operation-outcome"
    if method == "GET" and path == "/cds-services":
        return "discovery"
    if method == "POST" and _FEEDBACK.match(path):
        return "feedback-response"
    if method == "POST" and _SERVICE.match(path):
        return "cds-response"
    return None


def check_response(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    if method == "OPTIONS" or not body or path in ("/openapi.json", "/metrics", "/"):
        return  # not CDS Hooks documents: a JSON Schema, Prometheus text, the console page
    if path.startswith("/console/static/"):
        return
    if (path == "/handouts" or path.startswith("/handouts/")) and status == 200:
        return  # patient handouts: printable HTML pages and their stylesheet
    if path == "/app" or path.startswith("/app/"):
        assert content_type.startswith(("text/html", "text/css")) or status in (302, 303)
        return  # the TRD and course view: HTML pages, also when they refuse
    assert content_type.startswith("application/json"), f"{path} answered {content_type}"
    document = json.loads(body)
    holes = empties(document)
    assert not holes, f"{method} {path} emitted null or empty values at {holes}"
    schema = schema_for(method, path, status)
    if schema:
        validate(schema, document)

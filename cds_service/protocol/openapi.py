"""The OpenAPI 3.1 description at ``/openapi.json``, generated from the protocol models.

Response schemas come from the outbound models in serialization mode, with ``null`` removed,
because the service never emits it (checklist R-01). Request schemas come from the inbound
models, which tolerate more than they describe (unknown keys are allowed).
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from cds_service.protocol.discovery import ServiceRegistry
from cds_service.protocol.models import (
    CdsResponse,
    DiscoveryResponse,
    FeedbackRequest,
    HookRequest,
)

__all__ = ["openapi_document"]

REF = "#/components/schemas/{model}"

OPERATION_OUTCOME: dict[str, Any] = {
    "type": "object",
    "description": "Every error. issue[].details.coding[0].code is a stable error code.",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["severity", "code", "diagnostics"],
                "properties": {
                    "severity": {"enum": ["fatal", "error", "warning", "information"]},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                    "details": {"type": "object"},
                    "expression": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}

ERRORS = {
    "400": "The body is not a valid request for this service (the issue names the field).",
    "401": "Missing or invalid JWT (when authentication is on).",
    "404": "No service with this id.",
    "412": "Required prefetch data could be had neither from prefetch nor from fhirServer.",
    "413": "Body, prefetch keys or Bundle entries over their limits.",
}


def _without_null(schema: Any) -> Any:
    """Drop ``null`` alternatives and ``default: null``: the service prunes them on output."""
    if isinstance(schema, list):
        return [_without_null(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _without_null(v) for k, v in schema.items() if not (k == "default" and v is None)}
    options = out.get("anyOf")
    if isinstance(options, list):
        kept = [o for o in options if o != {"type": "null"}]
        if len(kept) == 1:
            del out["anyOf"]
            out = {**kept[0], **out}
        else:
            out["anyOf"] = kept
    return out


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


def _errors(*codes: str) -> dict[str, Any]:
    return {code: _json("#/components/schemas/OperationOutcome", ERRORS[code]) for code in codes}


def _post(
    summary: str,
    request_model: str,
    answer: tuple[str, str],
    errors: tuple[str, ...],
    service_id: dict[str, Any],
) -> dict[str, Any]:
    """An authenticated POST on a service path: JSON in, ``answer`` (model, text) or errors out."""
    return {
        "post": {
            "summary": summary,
            "security": [{"cdsHooksJwt": []}],
            "parameters": [service_id],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": REF.format(model=request_model)}}
                },
            },
            "responses": {"200": _json(REF.format(model=answer[0]), answer[1]), **_errors(*errors)},
        }
    }


def openapi_document(registry: ServiceRegistry, version: str) -> dict[str, Any]:
    _, defs = models_json_schema(
        [
            (CdsResponse, "serialization"),
            (DiscoveryResponse, "serialization"),
            (HookRequest, "validation"),
            (FeedbackRequest, "validation"),
        ],
        ref_template=REF,
    )
    schemas = {name: _without_null(s) for name, s in defs["$defs"].items()}
    schemas["OperationOutcome"] = OPERATION_OUTCOME
    schemas["FeedbackResponse"] = {
        "type": "object",
        "required": ["received", "stored"],
        "properties": {"received": {"type": "integer"}, "stored": {"type": "integer"}},
    }
    service_ids = sorted({s.id for s in registry})
    service_id = {
        "name": "service_id",
        "in": "path",
        "required": True,
        "schema": {"enum": service_ids},
    }
    bearer: list[dict[str, list[str]]] = [{"cdsHooksJwt": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ketamine CDS (CDS Hooks 2.0)",
            "version": version,
            "description": "Treatment-resistant depression and ketamine/esketamine decision "
            "support. See https://cds-hooks.hl7.org/2.0/ for the protocol.",
        },
        "paths": {
            "/cds-services": {
                "get": {
                    "summary": "Discovery",
                    "security": bearer,
                    "responses": {
                        "200": _json(REF.format(model="DiscoveryResponse"), "The services"),
                        **_errors("401"),
                    },
                }
            },
            "/cds-services/{service_id}": _post(
                "Call a service with a hook request",
                "HookRequest",
                ("CdsResponse", "Cards (possibly none)"),
                ("400", "401", "404", "412", "413"),
                service_id,
            ),
            "/cds-services/{service_id}/feedback": _post(
                "Report what the clinician did with cards",
                "FeedbackRequest",
                ("FeedbackResponse", "Items stored"),
                ("400", "401", "404", "413"),
                service_id,
            ),
            "/healthz": {
                "get": {
                    "summary": "Health: the database is reachable",
                    "responses": {"200": {"description": "ok"}, "503": {"description": "down"}},
                }
            },
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cdsHooksJwt": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "Signed by the EHR (ES384/RS384); aud is the URL called.",
                }
            },
        },
    }

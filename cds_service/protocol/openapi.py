"""The OpenAPI 3.1 description at ``/openapi.json``, generated from the protocol models.

Response schemas come from the outbound models in serialization mode, with ``null`` removed,
because the service never emits it (checklist R-01). Request schemas come from the inbound
models, which tolerate more than they describe (unknown keys are allowed), plus what the
service checks beyond pydantic's JSON Schema: each hook's context (``_hook_requests``), and
``fhirServer`` as a base URL and the feedback rules (``_request_rules``). What a schema cannot
say is stated in words: the body's ``hook`` must be one the service id serves, and
order-select's ``selections`` must name draftOrders entries.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from cds_service.protocol.discovery import HOOK_CONTEXTS, ServiceRegistry
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


NO_NUL = "^[^\\u0000]*$"  # stored text: PostgreSQL refuses NUL, so the service answers 400
# A base URL the service accepts as fhirServer: http(s), a host, an optional port, and a path
# without '.'/'..' segments, query, fragment or credentials (models._server_url).
FHIR_BASE_URL = (
    r"^https?://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?"  # host and port
    r"(/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*/?$"  # path segments, none of dots alone
)

# outcomeTimestamp as models._TIMESTAMP reads it, with each field in its range. Years 0, 1 and
# 9999 are left out: with an offset, 0001-01-01 or 9999-12-31 can fall outside the years a
# UTC timestamp can hold, and the service then refuses the item.
TIMESTAMP = (
    r"^(?!0000|0001|9999)\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?$"
)


def _request_rules(schemas: dict[str, Any]) -> None:
    """Add to the request schemas what the models check in validators (see the module doc)."""
    server = schemas["HookRequest"]["properties"]["fhirServer"]
    server.update(
        {
            "format": "uri",
            "pattern": FHIR_BASE_URL,
            "description": "The EHR's FHIR base URL, e.g. https://ehr.example.org/fhir.",
        }
    )
    schemas["HookRequest"]["dependentRequired"] = {"fhirAuthorization": ["fhirServer"]}
    # The JSON parser reads integers beyond 64 bits as floats, which are not integers here.
    expires = schemas["FhirAuthorization"]["properties"]["expires_in"]
    expires.update({"minimum": -(2**63), "maximum": 2**64 - 1})

    item = schemas["FeedbackItem"]
    item["properties"]["outcomeTimestamp"]["pattern"] = TIMESTAMP
    item["properties"]["outcomeTimestamp"]["description"] = (
        "A date and a time to the second; without an offset it is taken as UTC."
    )
    item["if"] = {"properties": {"outcome": {"const": "accepted"}}, "required": ["outcome"]}
    item["then"] = {
        "required": ["acceptedSuggestions"],
        "properties": {"acceptedSuggestions": {"minItems": 1}},
    }
    for name, field in [
        ("FeedbackItem", "card"),
        ("FeedbackCoding", "code"),
        ("FeedbackCoding", "system"),
        ("FeedbackCoding", "display"),
        ("FeedbackOverride", "userComment"),
        ("AcceptedSuggestion", "id"),
    ]:
        schemas[name]["properties"][field]["pattern"] = NO_NUL
    override = schemas["FeedbackOverride"]
    # Older Sandbox builds send the reason's code, system and display without "reason" around.
    coding = schemas["FeedbackCoding"]["properties"]
    override["properties"].update({k: dict(coding[k]) for k in ("code", "system", "display")})
    override["dependentRequired"] = {"system": ["code"], "display": ["code"]}
    override["not"] = {"required": ["reason", "code"]}  # one shape or the other
    override["anyOf"] = [
        {"required": ["reason"]},
        {"required": ["userComment"], "properties": {"userComment": {"minLength": 1}}},
        {"required": ["code"]},
    ]


def _hook_requests(schemas: dict[str, Any], registry: ServiceRegistry) -> None:
    """``HookRequest``: one of a request per hook served, each with that hook's context."""
    envelope = schemas.pop("HookRequest")
    variants = []
    for hook in sorted({s.hook for s in registry}):
        name = "".join(part.title() for part in hook.split("-")) + "Request"
        context = HOOK_CONTEXTS[hook].__name__
        schemas[name] = {
            **envelope,
            "title": name,
            "description": f"A call of the {hook} hook.",
            "properties": {
                **envelope["properties"],
                "hook": {"const": hook},
                "context": {"$ref": REF.format(model=context)},
            },
        }
        variants.append({"$ref": REF.format(model=name)})
    schemas["HookRequest"] = {
        "description": envelope["description"]
        + " The hook must be one the called service serves (see discovery); another is "
        "refused with 400 hook-not-served.",
        "oneOf": variants,
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
    security: list[dict[str, list[str]]],
) -> dict[str, Any]:
    """A POST on a service path: JSON in, ``answer`` (model, text) or errors out."""
    return {
        "post": {
            "summary": summary,
            "security": security,
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


def openapi_document(
    registry: ServiceRegistry, version: str, *, auth_enabled: bool = True
) -> dict[str, Any]:
    """The document; with authentication off, no operation asks for the JWT (``security: []``)."""
    _, defs = models_json_schema(
        [
            (CdsResponse, "serialization"),
            (DiscoveryResponse, "serialization"),
            (HookRequest, "validation"),
            (FeedbackRequest, "validation"),
            *((model, "validation") for model in HOOK_CONTEXTS.values()),
        ],
        ref_template=REF,
    )
    schemas = {name: _without_null(s) for name, s in defs["$defs"].items()}
    _request_rules(schemas)
    _hook_requests(schemas, registry)
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
    bearer: list[dict[str, list[str]]] = [{"cdsHooksJwt": []}] if auth_enabled else []
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
                bearer,
            ),
            "/cds-services/{service_id}/feedback": _post(
                "Report what the clinician did with cards",
                "FeedbackRequest",
                ("FeedbackResponse", "Items stored"),
                ("400", "401", "404", "413"),
                service_id,
                bearer,
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

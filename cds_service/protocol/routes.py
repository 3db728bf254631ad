"""HTTP endpoints: discovery, service calls, feedback. Errors are raised, not returned."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import orjson
from flask import Blueprint, Response, current_app, g, request
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from cds_service.config import Settings
from cds_service.errors import InvalidRequest, PayloadTooLarge
from cds_service.protocol import prefetch
from cds_service.protocol.discovery import ServiceRegistry
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.limits import check_limits
from cds_service.protocol.models import (
    FHIR_ID_PATTERN,
    RESOURCE_REF_PATTERN,
    UUID_PATTERN,
    CdsResponse,
    FeedbackRequest,
    HookRequest,
)
from cds_service.storage import Database, record_feedback

__all__ = ["AppState", "bp", "json_response", "state"]

bp = Blueprint("cds", __name__)
log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
UUID = re.compile(UUID_PATTERN)
PARSED_BODY_KEY = "ketamine_cds.parsed_body"
FHIR_RESOURCE_HINT = (
    "This body is a FHIR {kind}, not a CDS Hooks request. Send a hook request: hookInstance, "
    "hook, context (patientId, userId) and the resources in prefetch. To see the cards for a "
    "FHIR Bundle without a server, run `ketamine-cds evaluate FILE`."
)


@dataclass(frozen=True)
class AppState:
    settings: Settings
    registry: ServiceRegistry
    db: Database
    clock: Callable[[], datetime]


def state() -> AppState:
    return current_app.extensions["ketamine_cds"]  # type: ignore[no-any-return]


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


@bp.get("/cds-services")
def discovery() -> Response:
    return json_response(state().registry.discovery().dump())


@bp.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    app_state = state()
    app_state.registry.hooks_of(service_id)
    g.log_fields = {"service": service_id}
    body = read_json_object(app_state.settings)
    try:
        hook_request = parse(HookRequest, body)
    except InvalidRequest as exc:
        if isinstance(body.get("resourceType"), str):
            exc.hint = FHIR_RESOURCE_HINT.format(kind=str(body["resourceType"])[:40])
        raise
    check_limits(hook_request, app_state.settings)
    patient_id = hook_request.context.get("patientId")
    g.audit_patient_id = patient_id if isinstance(patient_id, str) else None
    service = app_state.registry.dispatch(service_id, hook_request.hook)
    g.log_fields.update(hook=service.hook, hookInstance=loggable_uuid(hook_request.hookInstance))
    context = parse(service.context_model, hook_request.context, prefix="context")
    data = prefetch.resolve(service, hook_request, app_state.settings, g.get("client_iss"))
    now = app_state.clock()
    call = HookCall(service_id, hook_request, context, data, app_state.settings, now.date(), now)
    cards = service.handler(call)
    g.audit_cards = cards
    return json_response(CdsResponse(cards=cards).dump())


@bp.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> Response:
    app_state = state()
    app_state.registry.hooks_of(service_id)
    g.log_fields = {"service": service_id}
    body = parse(FeedbackRequest, read_json_object(app_state.settings))
    summary = record_feedback(app_state.db, service_id, body.feedback)
    g.log_fields.update(feedback_received=summary.received, feedback_stored=summary.stored)
    return json_response({"received": summary.received, "stored": summary.stored})


@bp.get("/openapi.json")
def openapi() -> Response:
    from cds_service import __version__
    from cds_service.protocol.openapi import openapi_document

    app_state = state()
    return json_response(
        openapi_document(
            app_state.registry, __version__, auth_enabled=app_state.settings.auth_enabled
        )
    )


@bp.get("/healthz")
def healthz() -> Response:
    database_ok = state().db.ping()
    return json_response(
        {
            "status": "ok" if database_ok else "unavailable",
            "checks": {"database": "ok" if database_ok else "unreachable"},
        },
        200 if database_ok else 503,
    )


def loggable_uuid(value: str) -> str:
    """hookInstance is client text: log it only when it is the UUID the spec asks for."""
    return value if UUID.match(value) else "(not a uuid)"


def read_json_object(settings: Settings) -> dict[str, Any]:
    """The request body as a JSON object, whatever Content-Type the client sent."""
    length = request.content_length
    if length is not None and length > settings.max_body_bytes:
        raise PayloadTooLarge(_too_large(settings))
    try:
        raw = _read_exactly(length) if length else request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise
    except Exception as exc:  # whatever the server's body reader raises is the client's doing
        log.info("request body unreadable", extra={"error": type(exc).__name__})
        raise InvalidRequest(
            "The request body could not be read: its chunked encoding is malformed, or the "
            "connection broke before it ended.",
            error_code="unreadable-body",
        ) from None
    if len(raw) > settings.max_body_bytes:
        raise PayloadTooLarge(_too_large(settings))
    if not raw.strip():
        raise InvalidRequest(
            "The request body is empty; send a JSON object.", error_code="empty-body"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc}.", error_code="invalid-json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest(
            f"The request body must be a JSON object, not {json_type(body)}.",
            error_code="not-an-object",
        )
    # Freeing a large chart's objects takes milliseconds; held by the WSGI environ, they are
    # freed after the response is written, as Flask's own get_json() cache is.
    request.environ[PARSED_BODY_KEY] = body
    return body


def _read_exactly(length: int) -> bytes:
    """The body, in as few reads as the server allows: get_data() reads 8 KiB at a time through
    three layers of Python, which costs half a millisecond on a large chart."""
    chunks: list[bytes] = []
    missing = length
    while missing > 0:
        chunk = request.stream.read(missing)
        if not chunk:
            break
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def parse(model: type[M], data: Any, *, prefix: str = "") -> M:
    """Validate ``data`` against ``model``; errors name each field path and what was expected."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, prefix)
        raise InvalidRequest(
            "; ".join(f"{p}: {m}" for p, m in problems),
            error_code="invalid-field",
            problems=problems,
        ) from None


def validation_problems(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    problems = []
    for err in exc.errors(include_url=False):
        path = _with_indices(prefix, err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required"
        elif err["type"] == "string_pattern_mismatch":
            message = _PATTERN_HINTS.get(str(err.get("ctx", {}).get("pattern")), message)
        elif err["type"].endswith("_type") or err["type"] in {"model_type", "dict_type"}:
            message += f" (got {json_type(err.get('input'))})"
        problems.append((path or "(body)", message))
    return problems


_PATTERN_HINTS = {
    RESOURCE_REF_PATTERN: "must have the form ResourceType/id, e.g. 'Practitioner/123'",
    FHIR_ID_PATTERN: "must be a FHIR id: 1 to 64 letters, digits, '-' or '.'",
}


def _with_indices(prefix: str, loc: tuple[Any, ...]) -> str:
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path = f"{path}.{part}" if path else str(part)
    return path


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _too_large(settings: Settings) -> str:
    return f"The request body is larger than the {settings.max_body_bytes}-byte limit."

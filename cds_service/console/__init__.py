"""The developer console at ``/``: pick a fixture patient and a hook, fire the call, read the cards.

The page is static HTML, CSS and JS (``static/``) with no external resources, so it works
offline. It calls the service's own endpoints over HTTP like an EHR would, which is why it is
served only while authentication is off (``make run``): it has no EHR key to sign tokens with.
"""

from __future__ import annotations

from importlib.resources import files

from flask import Blueprint, Response, request

from cds_service.config import Settings, is_loopback_url
from cds_service.console.catalog import (
    ConsoleError,
    build_console_request,
    draft_orders,
    scenarios,
)
from cds_service.errors import CdsError, InvalidRequest
from cds_service.protocol.routes import json_response, state

__all__ = ["bp"]

bp = Blueprint("console", __name__, static_folder="static", static_url_path="/console/static")

# The page's own scripts and styles, and calls back to this origin; nothing else, inline or not.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


class ConsoleDisabled(CdsError):
    status = 404
    issue_code = "not-found"
    error_code = "console-disabled"


@bp.before_request
def only_without_authentication() -> None:
    if state().settings.auth_enabled:
        raise ConsoleDisabled(
            "The console is served only while authentication is off (local development, "
            "`make run`): it cannot sign the EHR tokens the service requires."
        )


@bp.get("/")
def page() -> Response:
    html = (files("cds_service.console") / "static" / "console.html").read_bytes()
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


@bp.get("/console/api/scenarios")
def list_scenarios() -> Response:
    app_state = state()
    return json_response(
        {
            "today": app_state.clock().date().isoformat(),
            "services": {s.hook: s.id for s in app_state.registry},
            "orders": [{"key": k, "label": v} for k, v in draft_orders().items()],
            "scenarios": [s.as_json() for s in scenarios()],
            **_smart_launch(app_state.settings),
        }
    )


def _smart_launch(settings: Settings) -> dict[str, str]:
    """The FHIR server the console launches ``smart`` links against, as an EHR would: the
    first SMART client on this machine (``make fhir-server --smart``, the test double)."""
    local = [url for url in settings.smart_clients if is_loopback_url(url)]
    return {"smartIss": local[0]} if local else {}


@bp.get("/console/api/request")
def hook_request() -> Response:
    """The request an EHR would send for ``scenario``, ``hook`` and (order hooks) ``order``."""
    args = request.args
    missing = [name for name in ("scenario", "hook") if not args.get(name)]
    if missing:
        raise InvalidRequest(
            f"missing query parameter {', '.join(missing)}", error_code="missing-parameter"
        )
    try:
        built = build_console_request(
            args["scenario"], args["hook"], args.get("order", ""), state().clock().date()
        )
    except ConsoleError as exc:
        raise InvalidRequest(str(exc), error_code="invalid-parameter") from None
    return json_response(built)

"""The Flask application factory."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request
from flask_cors import CORS
from sqlalchemy.engine import make_url
from werkzeug.exceptions import HTTPException

from cds_service import console, handouts, smartapp
from cds_service.config import NO_ISSUERS_ADVICE, Settings
from cds_service.errors import CdsError, issue, operation_outcome
from cds_service.logs import configure_logging, request_id_var
from cds_service.metrics import register_metrics
from cds_service.protocol import routes
from cds_service.protocol.audit import register_audit
from cds_service.protocol.auth import TokenVerifier, Unauthorized, normalise_url
from cds_service.protocol.discovery import ServiceRegistry
from cds_service.storage import Database, load_or_create_salt, remember_jti

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["create_app"]

log = logging.getLogger("cds_service.app")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SLASHES = re.compile(r"/{2,}")
_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly"}
CORS_HEADERS = ["Authorization", "Content-Type", "Accept", "X-Request-ID"]
# A JSON API: nothing to render, frame, sniff, cache or refer from (OWASP REST Security).
# The console and the handouts set their own Content-Security-Policy; these fill in whatever a
# route left unset.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    settings: Settings | None = None,
    *,
    registry: ServiceRegistry | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Flask:
    """Create the CDS Hooks app. Tests pass their own Settings, registry or clock."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    if registry is None:
        from cds_service.services import registry as default_registry

        registry = default_registry

    app = Flask(__name__)
    # One byte over the cap: werkzeug silently truncates chunked bodies at this limit, so the
    # route reads cap + 1 bytes and answers 413 itself when it gets them all.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    db = Database(str(settings.database_url))
    try:
        db.create_schema()
        app.extensions["ketamine_cds"] = routes.AppState(settings, registry, db, clock or _utc_now)
        _assemble(app, settings, registry, db)
    except BaseException:
        db.dispose()  # a start that fails (say, on an empty salt file) leaves no pool behind
        raise

    log.info(
        "application loaded",
        extra={
            "database": make_url(str(settings.database_url)).render_as_string(hide_password=True),
            "services": [s.id for s in registry],
        },
    )
    if "*" in settings.cors_origins:
        log.warning(
            "CORS allows any origin; list the EHR origins in KETAMINE_CDS_CORS_ORIGINS "
            "for production"
        )
    return app


def _assemble(app: Flask, settings: Settings, registry: ServiceRegistry, db: Database) -> None:
    """CORS, blueprints, request hooks, authentication, audit, metrics and error handlers."""
    CORS(
        app,
        origins=settings.cors_origins,
        allow_headers=CORS_HEADERS,
        methods=["GET", "POST", "OPTIONS"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    app.register_blueprint(routes.bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(handouts.bp)
    smartapp.register(app, settings, db)
    app.wsgi_app = _TolerantPaths(app.wsgi_app)  # type: ignore[method-assign]
    _register_request_hooks(app)
    _register_authentication(app, settings, db)
    audit_salt = settings.audit_salt.get_secret_value() if settings.audit_salt else None
    register_audit(app, db, load_or_create_salt(audit_salt, settings.data_dir))
    register_metrics(app, {s.id for s in registry})
    _register_error_handlers(app)


class _TolerantPaths:
    """Route ``/cds-services//x`` as ``/cds-services/x``, and ``/cds-services/`` without the slash.

    The Sandbox builds each service URL by appending ``/{id}`` to the discovery URL as the user
    typed it, so a trailing slash there doubles here. Rewriting the path,
    rather than redirecting, keeps CORS preflights working: browsers do not follow redirects.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if "//" in path or (len(path) > 1 and path.endswith("/")):
            environ["PATH_INFO"] = _SLASHES.sub("/", path).rstrip("/") or "/"
        return self.wsgi_app(environ, start_response)


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def start() -> None:
        supplied = request.headers.get("X-Request-ID", "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex
        g.request_id_token = request_id_var.set(g.request_id)
        g.started = time.perf_counter()
        g.log_fields = {}

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        for name, value in SECURITY_HEADERS.items():
            if name == "X-Frame-Options" and g.get("frameable"):
                continue  # the view's CSP frame-ancestors names the EHRs that may frame it
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        if request.method != "OPTIONS":
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(
                        (time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 1
                    ),
                    **g.get("log_fields", {}),
                },
            )
        return response

    @app.teardown_request
    def reset(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)


PROTECTED_ENDPOINTS = {"cds.discovery", "cds.call_service", "cds.feedback"}


def _register_authentication(app: Flask, settings: Settings, db: Database) -> None:
    """Discovery, service calls and feedback need a trusted EHR's JWT (spec J-03).

    ``/healthz`` stays open for load balancers; CORS preflights never carry credentials.
    """
    if not settings.auth_enabled:
        log.warning(
            "AUTHENTICATION IS OFF: any caller can send patient data to this service. "
            "Set KETAMINE_CDS_AUTH_ENABLED=true and KETAMINE_CDS_TRUSTED_ISSUERS outside "
            "local development"
        )
        return
    if not settings.trusted_issuers:
        log.error(
            "no trusted issuers are configured (KETAMINE_CDS_TRUSTED_ISSUERS), so every "
            f"service call will be refused with 401. {NO_ISSUERS_ADVICE}"
        )
    verifier = TokenVerifier(
        settings,
        lambda jti, iss, exp: remember_jti(db, jti, iss, exp, settings.jwt_leeway_s),
    )
    if settings.trust_cds_hooks_sandbox:
        log.warning(
            "the CDS Hooks Sandbox is trusted (KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX): its "
            "private key is public, so anyone who can reach this service can sign as it, "
            "web pages open in this machine's browser included. For development only; "
            "audiences: " + ", ".join(settings.public_base_urls)
        )
    # Unset only when no issuer is trusted, so every token fails anyway.
    base_urls = [normalise_url(url) for url in settings.public_base_urls]

    @app.before_request
    def authenticate() -> None:
        if request.method == "OPTIONS" or request.endpoint not in PROTECTED_ENDPOINTS:
            return
        audiences = [base + request.path for base in base_urls or [request.host_url]]
        claims = verifier.verify(request.headers.get("Authorization"), audiences)
        g.client_iss = claims["iss"]
        g.log_fields["client"] = claims["iss"]


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(Unauthorized)
    def unauthorized(exc: Unauthorized) -> Response:
        log.warning("token refused", extra={"reason": exc.reason})
        response = routes.json_response(exc.to_operation_outcome(), exc.status)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response

    @app.errorhandler(CdsError)
    def cds_error(exc: CdsError) -> Response:
        log.info("request refused", extra={"status": exc.status, "error_code": exc.error_code})
        return routes.json_response(exc.to_operation_outcome(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_ISSUE_CODES.get(status, "processing")
        message = exc.description or exc.name
        if status == 413:
            limit = app.extensions["ketamine_cds"].settings.max_body_bytes
            message = f"The request body is larger than the {limit}-byte limit."
        outcome = operation_outcome([issue(code, message, error_code=f"http-{status}")])
        response = routes.json_response(outcome, status)
        if status == 405 and exc.get_response().headers.get("Allow"):
            response.headers["Allow"] = exc.get_response().headers["Allow"]
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.error("unhandled error", exc_info=exc)
        outcome = operation_outcome(
            [
                issue(
                    "exception",
                    f"The service failed unexpectedly. Quote request id {g.get('request_id', '-')} "
                    "when reporting this.",
                    error_code="internal-error",
                )
            ]
        )
        return routes.json_response(outcome, 500)

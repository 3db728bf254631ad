"""``/app/launch``, ``/app/callback`` and ``/app``: the SMART EHR launch and the view.

The browser carries only random values, in HttpOnly cookies: between launch and callback a
pre-auth cookie that binds the ``state`` to this browser, then the session id. Over https the
cookies are ``__Host-``, Secure, SameSite=None and Partitioned, so they work inside the EHR's
frame; on http (this machine only) they are SameSite=Lax. Query strings under ``/app`` carry
launch and authorization codes, so nothing here logs them; the request log has the path only.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from functools import cache
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, g, render_template, request
from markdown_it import MarkdownIt
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from cds_service.config import Settings
from cds_service.protocol.routes import state
from cds_service.services.detail import day
from cds_service.services.trd_text import trial_row
from cds_service.smartapp.chart import allowed_issuer, read_chart
from cds_service.smartapp.charts import describe, timeline_svg
from cds_service.smartapp.failures import LaunchFailure
from cds_service.smartapp.oauth import authorization_url, discover, exchange, new_verifier
from cds_service.smartapp.store import PendingLaunch, SessionStore, TooManyLaunches
from cds_service.smartapp.summary import course_status, missing
from cds_service.smartapp.timeline import timeline

__all__ = ["bp", "cookie_names", "redirect_uri"]

bp = Blueprint(
    "smartapp",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
log = logging.getLogger(__name__)

CALLBACK_PATH = "/app/callback"
VIEW_PATH = "/app"
MAX_PARAMETER = 2048


@dataclass(frozen=True)
class CookieNames:
    launch: str
    session: str
    secure: bool


def _secure(settings: Settings) -> bool:
    """Judged by the public base URL: the browser reaches the view there."""
    return urlsplit(settings.links_base_url()).scheme == "https"


def cookie_names(settings: Settings) -> CookieNames:
    if _secure(settings):
        return CookieNames("__Host-kcds-launch", "__Host-kcds-view", True)
    return CookieNames("kcds-launch", "kcds-view", False)


def redirect_uri(settings: Settings) -> str:
    return settings.links_base_url() + CALLBACK_PATH


def store() -> SessionStore:
    return current_app.extensions["ketamine_cds_smart"]  # type: ignore[no-any-return]


@bp.before_request
def enabled() -> None:
    g.frameable = True
    if not state().settings.smart_clients:
        raise LaunchFailure("disabled")


@bp.after_request
def page_headers(response: Response) -> Response:
    ancestors = " ".join(state().settings.smart_frame_ancestors) or "'self'"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )
    return response


@bp.errorhandler(LaunchFailure)
def failed(exc: LaunchFailure) -> Response:
    g.log_fields["smart_failure"] = exc.kind
    log.warning("view refused", extra={"reason": exc.kind})
    failure = exc.failure
    html = render_template(
        "failure.html",
        title=failure.title,
        explanation=exc.explanation(),
        request_id=g.get("request_id", "-"),
    )
    return Response(html, status=failure.status, mimetype="text/html")


@bp.errorhandler(SQLAlchemyError)
def storage_down(exc: SQLAlchemyError) -> Response:
    log.error("view storage failed", extra={"error": type(exc).__name__})
    return failed(LaunchFailure("storage"))


@bp.errorhandler(Exception)
def broke(exc: Exception) -> Response:
    log.error("view failed unexpectedly", extra={"error": type(exc).__name__}, exc_info=exc)
    html = render_template(
        "failure.html",
        title="The view failed",
        explanation="Something went wrong on the service's side. Quote the request id below "
        "when you report this.",
        request_id=g.get("request_id", "-"),
    )
    return Response(html, status=500, mimetype="text/html")


def _parameter(name: str) -> str:
    value = request.args.get(name, "")
    return value if len(value) <= MAX_PARAMETER else ""


@bp.get("/launch")
def launch() -> Response:
    settings = state().settings
    iss, launch_id = _parameter("iss").rstrip("/"), _parameter("launch")
    if not iss or not launch_id:
        raise LaunchFailure("bad-launch")
    client = settings.smart_clients.get(iss)
    if client is None or not allowed_issuer(iss, settings)[0]:
        raise LaunchFailure("unknown-iss")
    server = discover(iss, settings)
    verifier = new_verifier()
    pending = PendingLaunch(
        iss=iss,
        token_endpoint=server.token_endpoint,
        code_verifier=verifier,
        issuer=server.issuer,
        issuer_required=server.issuer_in_callback,
    )
    try:
        state_value, browser = store().begin_launch(pending)
    except TooManyLaunches:
        raise LaunchFailure("busy") from None
    target = authorization_url(
        server,
        client,
        redirect_uri=redirect_uri(settings),
        launch=launch_id,
        state=state_value,
        verifier=verifier,
    )
    response = _redirect(target, 302)
    names = cookie_names(settings)
    _set_cookie(response, names.launch, browser, names.secure, settings.smart_launch_ttl_s)
    return response


@bp.get("/callback")
def callback() -> Response:
    settings = state().settings
    names = cookie_names(settings)
    error = _parameter("error")
    if error:
        raise LaunchFailure("denied", _word(error))
    state_value, code = _parameter("state"), _parameter("code")
    if not state_value or not code:
        raise LaunchFailure("state" if not state_value else "denied", "a callback without one")
    pending = store().take_launch(state_value, request.cookies.get(names.launch))
    if pending is None:
        raise LaunchFailure("state")
    _check_issuer(pending, request.args.get("iss"))
    client = settings.smart_clients.get(pending.iss)
    if client is None:
        raise LaunchFailure("unknown-iss")
    grant = exchange(pending, client, redirect_uri(settings), code)
    session_id, handle = store().open_session(grant)
    response = _redirect(f"{VIEW_PATH}?{urlencode({'view': handle})}", 303)
    _clear_cookie(response, names.launch, names.secure)
    _set_cookie(response, names.session, session_id, names.secure, None)
    return response


@bp.get("")
def view() -> Response:
    app_state = state()
    settings = app_state.settings
    session_id = request.cookies.get(cookie_names(settings).session)
    session = store().session(session_id) if session_id else None
    if session is None:
        raise LaunchFailure("expired")
    handle = request.args.get("view", "").encode("utf-8", "replace")
    if not secrets.compare_digest(handle, session.handle.encode("ascii")):
        raise LaunchFailure("replaced")
    if session.iss not in settings.smart_clients:
        raise LaunchFailure("unknown-iss")  # its registration was withdrawn since the launch
    now = app_state.clock()
    reading = read_chart(session, settings, app_state.registry, now)
    drawn = timeline(reading.assessment, settings.clinical)
    html = render_template(
        "view.html",
        today=day(now.date()),
        patient=reading.patient,
        cards=[(card, _markdown(card.detail or "")) for card in reading.cards],
        chart=Markup(timeline_svg(drawn)),
        chart_text=describe(drawn),
        trials=[
            [_inline(cell) for cell in trial_row(trial, settings.clinical)]
            for trial in reading.assessment.trd.trials
        ],
        course=course_status(reading.assessment, settings.clinical, now.date()),
        missing=missing(reading.assessment, reading.gaps, settings.clinical),
    )
    return Response(html, mimetype="text/html")


def _check_issuer(pending: PendingLaunch, iss: str | None) -> None:
    """RFC 9207: a callback that names its authorization server must name the one the launch
    went to, and one that promised to must name it, so that a code from another server is
    never sent to this one's token endpoint."""
    if iss is None and not pending.issuer_required:
        return
    if iss is None or pending.issuer is None or iss != pending.issuer:
        raise LaunchFailure("mix-up")


def _redirect(location: str, status: int) -> Response:
    response = Response(status=status)
    response.headers["Location"] = location
    return response


def _set_cookie(
    response: Response, name: str, value: str, secure: bool, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/" if secure else "/app",
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
        partitioned=secure,
    )


def _clear_cookie(response: Response, name: str, secure: bool) -> None:
    _set_cookie(response, name, "", secure, 0)


def _word(text: str) -> str:
    """An OAuth error code, for the page: letters, digits, ``_`` and ``-`` only."""
    return "".join(ch for ch in text if ch.isalnum() or ch in "_-")[:40] or "an error"


@cache
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def _markdown(text: str) -> Markup:
    return Markup(_renderer().render(text))  # raw HTML in the text is escaped, not rendered


def _inline(text: str) -> Markup:
    return Markup(_renderer().renderInline(text))

"""gunicorn's side of serving: how it answers a request it cannot parse, and how it logs.

gunicorn refuses some requests before the application sees them: a malformed request line or
header, ``Transfer-Encoding: chunked`` together with ``Content-Length``, a bad chunk. Its own
answer is an HTML page; the workers here answer with an OperationOutcome, like every other
error of this service. Their log line names the kind of error, never its text, which can quote
the client's headers. The logger class writes gunicorn's own lines (boot, worker timeouts) in
the service's log format, so that under ``KETAMINE_CDS_LOG_FORMAT=json`` every line is JSON.
"""

from __future__ import annotations

import logging
import ssl
import uuid
from typing import Any

import orjson
from gunicorn import glogging, util
from gunicorn.http import errors as http_errors
from gunicorn.workers.gthread import ThreadWorker as GunicornThreadWorker
from gunicorn.workers.sync import SyncWorker as GunicornSyncWorker

from cds_service.app import SECURITY_HEADERS
from cds_service.errors import issue, operation_outcome
from cds_service.logs import formatter, request_id_var

__all__ = ["SyncWorker", "ThreadWorker", "logger_class", "worker_class"]

log = logging.getLogger("cds_service.serving")

# (status, reason, what the client got wrong) by gunicorn's exception, most specific first.
_REFUSALS: tuple[tuple[type[BaseException], int, str, str], ...] = (
    (http_errors.LimitRequestLine, 414, "URI Too Long", "the request line is too long"),
    (
        http_errors.LimitRequestHeaders,
        431,
        "Request Header Fields Too Large",
        "the headers are too many or too large",
    ),
    (
        http_errors.UnsupportedTransferCoding,
        501,
        "Not Implemented",
        "the Transfer-Encoding is not supported; send chunked or a Content-Length",
    ),
    (http_errors.ExpectationFailed, 417, "Expectation Failed", "the Expect header is not met"),
    (http_errors.ForbiddenProxyRequest, 403, "Forbidden", "the proxy is not allowed"),
    (http_errors.InvalidRequestLine, 400, "Bad Request", "the request line is malformed"),
    (http_errors.InvalidRequestMethod, 400, "Bad Request", "the method is not valid"),
    (http_errors.InvalidHTTPVersion, 400, "Bad Request", "the HTTP version is not supported"),
    (
        http_errors.InvalidHeader,
        400,
        "Bad Request",
        "a header is malformed, or the body's length is ambiguous (Transfer-Encoding with "
        "Content-Length, or a repeated or invalid Content-Length)",
    ),
    (http_errors.InvalidHeaderName, 400, "Bad Request", "a header name is malformed"),
    (http_errors.ObsoleteFolding, 400, "Bad Request", "a header is folded over lines"),
    (http_errors.InvalidChunkSize, 400, "Bad Request", "a chunk size of the body is malformed"),
    (
        http_errors.ChunkMissingTerminator,
        400,
        "Bad Request",
        "a chunk of the body lacks its line ending",
    ),
    (http_errors.InvalidChunkExtension, 400, "Bad Request", "a chunk extension is malformed"),
    (http_errors.InvalidProxyLine, 400, "Bad Request", "the PROXY protocol line is malformed"),
    (http_errors.InvalidSchemeHeaders, 400, "Bad Request", "the scheme headers contradict"),
    (http_errors.InvalidH2CPreface, 400, "Bad Request", "HTTP/2 is not supported"),
    (ssl.SSLError, 403, "Forbidden", "the TLS handshake failed"),
)
# Errors in the response the application wrote are the service's, not the client's.
_OURS = (http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName)
_SECURITY_HEADERS = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())


def refusal(exc: BaseException) -> tuple[int, str, str]:
    """(status, reason phrase, diagnostics) for an exception gunicorn raised on a request."""
    if not isinstance(exc, _OURS):
        for kind, status, reason, what in _REFUSALS:
            if isinstance(exc, kind):
                return status, reason, f"The HTTP request could not be read: {what}."
    return 500, "Internal Server Error", ""


def error_response(status: int, reason: str, diagnostics: str, request_id: str) -> bytes:
    """A complete HTTP/1.1 response carrying an OperationOutcome; the connection closes."""
    if status == 500:
        diagnostics = (
            f"The service failed unexpectedly. Quote request id {request_id} when reporting this."
        )
        code, error_code = "exception", "internal-error"
    else:
        code, error_code = ("not-supported" if status == 501 else "invalid"), f"http-{status}"
    body = orjson.dumps(operation_outcome([issue(code, diagnostics, error_code=error_code)]))
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        f"{_SECURITY_HEADERS}\r\n"
    )
    return head.encode("latin-1") + body


class _OperationOutcomeErrors:
    """Overrides ``Worker.handle_error``: same statuses as gunicorn, an OperationOutcome body."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        status, reason, diagnostics = refusal(exc)
        request_id = uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            fields = {"status": status, "error": type(exc).__name__}
            if status == 500:
                log.error("unhandled error outside the application", extra=fields, exc_info=exc)
            else:
                log.warning("request refused before the application", extra=fields)
        finally:
            request_id_var.reset(token)
        try:
            util.write_nonblock(client, error_response(status, reason, diagnostics, request_id))
        except OSError:
            log.debug("the client left before the refusal was sent")


class SyncWorker(_OperationOutcomeErrors, GunicornSyncWorker):  # type: ignore[misc]
    pass


class ThreadWorker(_OperationOutcomeErrors, GunicornThreadWorker):  # type: ignore[misc]
    def _keepalive_after(self, conn: Any, keepalive: bool) -> bool:
        """gunicorn drains a body the application left unread before it reuses a connection.
        When that body is malformed the answer has already been sent: close the connection
        rather than send a second, unasked-for answer on it."""
        try:
            return bool(super()._keepalive_after(conn, keepalive))
        except (http_errors.ParseException, http_errors.NoMoreData, OSError):
            return False


def worker_class(threads: int) -> type:
    """gthread when a worker has more than one thread, as gunicorn itself would choose."""
    return ThreadWorker if threads > 1 else SyncWorker


def logger_class(fmt: str) -> type:
    """A gunicorn logger whose lines are in the service's log format (``json`` or ``text``)."""

    class ServiceFormatLogger(glogging.Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for handler in self.error_log.handlers:
                handler.setFormatter(formatter(fmt))

    return ServiceFormatLogger

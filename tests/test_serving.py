"""How gunicorn's refusals read: the statuses gunicorn uses, an OperationOutcome, no client text."""

from __future__ import annotations

import json
import logging

import pytest
from gunicorn.http import errors as http_errors

from cds_service.logs import formatter
from cds_service.serving import SyncWorker, ThreadWorker, error_response, refusal, worker_class


def parts(response: bytes) -> tuple[str, dict[str, str], dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, headers, json.loads(body)


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (http_errors.InvalidChunkSize(b"zz"), 400),
        (http_errors.InvalidHeader("CONTENT-LENGTH"), 400),
        (http_errors.InvalidRequestLine("GARBAGE"), 400),
        (http_errors.LimitRequestLine(9000, 8190), 414),
        (http_errors.LimitRequestHeaders("too many"), 431),
        (http_errors.UnsupportedTransferCoding("gzip"), 501),
        (http_errors.InvalidResponseHeader("X-Bad"), 500),
        (RuntimeError("boom"), 500),
    ],
)
def test_refusals_keep_gunicorn_statuses(exc: BaseException, status: int) -> None:
    assert refusal(exc)[0] == status


def test_a_refusal_is_an_operation_outcome_without_the_client_text() -> None:
    status, reason, diagnostics = refusal(http_errors.InvalidHeader("Authorization: Bearer s3cr3t"))
    response = error_response(status, reason, diagnostics, "abc123")
    line, headers, document = parts(response)
    assert line == "HTTP/1.1 400 Bad Request"
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert headers["X-Request-ID"] == "abc123"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert int(headers["Content-Length"]) == len(response.partition(b"\r\n\r\n")[2])
    [issue] = document["issue"]
    assert issue["details"]["coding"][0]["code"] == "http-400"
    assert issue["diagnostics"].startswith("The HTTP request could not be read: a header")
    assert b"s3cr3t" not in response


def test_an_error_of_ours_quotes_the_request_id() -> None:
    _, _, document = parts(error_response(*refusal(RuntimeError("x")), "req-1"))
    [issue] = document["issue"]
    assert issue["details"]["coding"][0]["code"] == "internal-error"
    assert "Quote request id req-1" in issue["diagnostics"]


def test_the_worker_class_follows_the_thread_count() -> None:
    assert worker_class(1) is SyncWorker
    assert worker_class(4) is ThreadWorker


def test_other_libraries_records_format_in_both_log_formats() -> None:
    record = logging.LogRecord("gunicorn.error", logging.INFO, "", 1, "Booting %s", (1,), None)
    assert json.loads(formatter("json").format(record))["msg"] == "Booting 1"
    assert formatter("text").format(record).endswith("INFO [-] gunicorn.error: Booting 1")

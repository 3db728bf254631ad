"""Structured logs: one JSON object per line, each carrying the request id.

Log records never carry request bodies, patient ids or tokens. Exceptions are logged as
their type and stack frames only: an exception's message can quote patient data.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["configure_logging", "formatter", "request_id_var", "safe_traceback"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def safe_traceback(exc: BaseException) -> str:
    """Format a traceback with frames and exception types, but no exception messages."""
    lines: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = traceback.extract_tb(current.__traceback__)
        lines.extend(f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames)
        lines.append(f"{type(current).__module__}.{type(current).__qualname__} (message withheld)")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as compact JSON; extras passed with ``extra=`` become fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            payload["traceback"] = safe_traceback(record.exc_info[1])
        return orjson.dumps(payload, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The line, then the fields passed with ``extra=`` as ``key=value``, as JSON has them."""
        if not hasattr(record, "request_id"):  # a record from another library's logger
            record.request_id = request_id_var.get()
        line = super().format(record)
        fields = [
            f"{key}={orjson.dumps(value, default=str).decode()}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRS and key != "request_id" and not key.startswith("_")
        ]
        head, newline, rest = line.partition("\n")  # any traceback stays below
        return " ".join([head, *fields]) + newline + rest

    def formatException(self, ei: Any) -> str:
        return safe_traceback(ei[1])


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for a log format: ``json`` (one object per line) or ``text``."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Send the ``cds_service`` loggers to stderr in the chosen format (idempotent)."""
    logger = logging.getLogger("cds_service")
    logger.setLevel(level.upper())
    for handler in list(logger.handlers):
        if getattr(handler, "_cds_handler", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(_RequestIdFilter())
    handler._cds_handler = True  # type: ignore[attr-defined]
    logger.addHandler(handler)

"""Errors the service answers with. Each has one HTTP status and one OperationOutcome code.

* CdsError                  500 exception
  x InvalidRequest          400 invalid      (bad JSON, missing or mistyped fields)
  x UnsupportedHook         400 not-supported (this service id does not serve that hook)
  x UnknownService          404 not-found
  x PayloadTooLarge         413 too-costly
  x PrefetchUnavailable     412 incomplete   (required data neither prefetched nor fetchable)

``details.coding[0].code`` carries a stable machine code (``invalid-json``, ...), so tests and
integrators can match on it rather than on the wording of ``diagnostics``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ERROR_CODE_SYSTEM",
    "CdsError",
    "InvalidRequest",
    "PayloadTooLarge",
    "PrefetchUnavailable",
    "UnknownService",
    "UnsupportedHook",
    "operation_outcome",
]

ERROR_CODE_SYSTEM = "https://ketamine-cds.org/fhir/CodeSystem/service-errors"


class CdsError(Exception):
    """Base class: an error with an HTTP status and an OperationOutcome issue."""

    status = 500
    issue_code = "exception"
    error_code = "internal-error"

    def __init__(
        self,
        diagnostics: str,
        *,
        error_code: str | None = None,
        expression: list[str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        if error_code:
            self.error_code = error_code
        self.expression = expression or []

    def issues(self) -> list[dict[str, Any]]:
        return [
            issue(
                self.issue_code,
                self.diagnostics,
                error_code=self.error_code,
                expression=self.expression,
            )
        ]

    def to_operation_outcome(self) -> dict[str, Any]:
        return operation_outcome(self.issues())


class InvalidRequest(CdsError):
    """The body is not a valid CDS Hooks request (or feedback) document."""

    status = 400
    issue_code = "invalid"
    error_code = "invalid-request"

    def __init__(
        self, diagnostics: str, *, problems: list[tuple[str, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(diagnostics, **kwargs)
        self.problems = problems or []
        self.hint: str | None = None  # what the client probably meant, as an information issue

    def issues(self) -> list[dict[str, Any]]:
        found = (
            super().issues()
            if not self.problems
            else [
                issue(
                    self.issue_code,
                    f"{path}: {message}",
                    error_code=self.error_code,
                    expression=[path] if path else [],
                )
                for path, message in self.problems
            ]
        )
        if self.hint:
            found.append(
                issue("informational", self.hint, error_code="hint", severity="information")
            )
        return found


class UnsupportedHook(CdsError):
    status = 400
    issue_code = "not-supported"
    error_code = "hook-not-served"


class UnknownService(CdsError):
    status = 404
    issue_code = "not-found"
    error_code = "unknown-service"


class PayloadTooLarge(CdsError):
    status = 413
    issue_code = "too-costly"
    error_code = "body-too-large"


class PrefetchUnavailable(CdsError):
    """Required data could be had neither from prefetch nor from fhirServer (CDS Hooks: 412)."""

    status = 412
    issue_code = "incomplete"
    error_code = "prefetch-unavailable"

    def __init__(self, service_id: str, failures: dict[str, str]) -> None:
        keys = ", ".join(sorted(failures))
        super().__init__(
            f"Service '{service_id}' cannot get required data for prefetch key(s) {keys}."
        )
        self.failures = failures

    def issues(self) -> list[dict[str, Any]]:
        return [
            issue(
                self.issue_code,
                f"Prefetch key '{key}': {reason}",
                error_code=self.error_code,
                expression=[f"prefetch.{key}"],
            )
            for key, reason in sorted(self.failures.items())
        ]


def issue(
    code: str,
    diagnostics: str,
    *,
    error_code: str,
    expression: list[str] | None = None,
    severity: str = "error",
) -> dict[str, Any]:
    """Build one OperationOutcome.issue with our stable error code in ``details``."""
    out: dict[str, Any] = {
        "severity": severity,
        "code": code,
        "details": {"coding": [{"system": ERROR_CODE_SYSTEM, "code": error_code}]},
        "diagnostics": diagnostics,
    }
    if expression:
        out["expression"] = expression
    return out


def operation_outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}

"""Read FHIR JSON as clients and servers really send it: any field may have the wrong type.

Every helper here returns a usable value for any input and never raises, so that a malformed
Bundle or OperationOutcome degrades to "no data" instead of a 500.
"""

from __future__ import annotations

from typing import Any, TypeGuard

__all__ = [
    "as_dict",
    "as_list",
    "bundle_entries",
    "has_error",
    "is_resource",
    "next_link",
    "outcome_text",
]

ERROR_SEVERITIES = {"error", "fatal"}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def is_resource(value: Any) -> TypeGuard[dict[str, Any]]:
    """A JSON object with a string ``resourceType``."""
    return isinstance(value, dict) and isinstance(value.get("resourceType"), str)


def bundle_entries(
    bundle: dict[str, Any],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """Split a Bundle's entries into (resources, outcomes, entries without a resource).

    An entry is an outcome when its resource is an OperationOutcome or its ``search.mode`` is
    ``outcome`` (spec P-08).
    """
    resources: list[dict[str, Any]] = []
    outcomes: list[dict[str, Any]] = []
    skipped = 0
    for entry in as_list(bundle.get("entry")):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not is_resource(resource):
            skipped += 1
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        if resource["resourceType"] == "OperationOutcome" or mode == "outcome":
            outcomes.append(resource)
        else:
            resources.append(resource)
    return resources, outcomes, skipped


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in as_list(bundle.get("link")):
        link = as_dict(link)
        if link.get("relation") == "next" and isinstance(link.get("url"), str) and link["url"]:
            return str(link["url"])
    return None


def has_error(outcome: dict[str, Any]) -> bool:
    """True when an OperationOutcome has an issue of severity error or fatal."""
    return any(
        as_dict(i).get("severity") in ERROR_SEVERITIES for i in as_list(outcome.get("issue"))
    )


def outcome_text(outcome: dict[str, Any]) -> str:
    """Summarise an OperationOutcome's issues: 'error (timeout): backend slow; ...'."""
    texts = []
    for issue in as_list(outcome.get("issue")):
        issue = as_dict(issue)
        detail = issue.get("diagnostics") or as_dict(issue.get("details")).get("text")
        text = f"{_short(issue.get('severity'))} ({_short(issue.get('code'))})"
        texts.append(f"{text}: {_short(detail, 200)}" if detail else text)
    return "; ".join(texts) or "OperationOutcome without issues"


def _short(value: Any, limit: int = 40) -> str:
    text = value if isinstance(value, str) else "unknown"
    return text if len(text) <= limit else text[: limit - 1] + "…"

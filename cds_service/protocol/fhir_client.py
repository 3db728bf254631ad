"""Fetch FHIR data from the client's fhirServer, within a time budget.

Each request has connect and read timeouts cut to the time left, a cap on response size, and
no redirects (a redirect could carry the bearer token to another host). ``next`` links are
followed up to a page cap, and only when they stay on fhirServer. Failures become
``FhirServerError`` with a message that names no patient and never the token.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

__all__ = ["FhirClient", "FhirServerError", "SearchResult", "next_link", "outcome_text"]

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"


class FhirServerError(Exception):
    """fhirServer could not give the data: unreachable, slow, refused, or not FHIR."""


@dataclass
class SearchResult:
    resources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    complete: bool = True
    pages: int = 0


class FhirClient:
    """A read-only FHIR REST client bound to one fhirServer, token and deadline."""

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None,
        deadline: float,
        connect_timeout: float,
        read_timeout: float,
        max_pages: int,
        max_response_bytes: int,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = access_token
        self.deadline = deadline
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_pages = max_pages
        self.max_response_bytes = max_response_bytes

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r})"

    def url_for(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def on_server(self, url: str) -> bool:
        """True when ``url`` lies under fhirServer (same scheme, host, port and base path)."""
        target, base = urlsplit(url), urlsplit(self.base_url)
        return (target.scheme, target.netloc) == (base.scheme, base.netloc) and (
            target.path.rstrip("/") + "/"
        ).startswith(base.path.rstrip("/") + "/")

    def resource_type(self, url: str) -> str:
        """The resource type a URL addresses, for logs: paths and queries can hold patient ids."""
        base_path = urlsplit(self.base_url).path.rstrip("/")
        first = urlsplit(url).path.removeprefix(base_path).strip("/").split("/", 1)[0]
        return first if first.isalpha() else "(page)"

    def read(self, relative: str) -> dict[str, Any]:
        """GET one resource (``Patient/123``) or the first page of a search."""
        return self._get(self.url_for(relative))

    def search(self, relative: str) -> SearchResult:
        """Run a search and follow ``next`` links up to the page cap."""
        return self.follow(self.url_for(relative))

    def follow(self, url: str, result: SearchResult | None = None) -> SearchResult:
        """Fetch ``url`` and the pages after it, adding to ``result``."""
        result = result or SearchResult()
        next_url: str | None = url
        while next_url:
            if result.pages >= self.max_pages:
                result.complete = False
                result.notes.append(f"stopped after {self.max_pages} pages; more results exist")
                break
            if not self.on_server(next_url):
                result.complete = False
                result.notes.append("a next link points outside fhirServer and was not followed")
                break
            body = self._get(next_url)
            result.pages += 1
            if body.get("resourceType") != "Bundle":
                if body.get("resourceType") == "OperationOutcome":
                    raise FhirServerError(
                        f"fhirServer answered an OperationOutcome: {outcome_text(body)}"
                    )
                result.resources.append(body)
                break
            for entry in body.get("entry") or []:
                resource = entry.get("resource") if isinstance(entry, dict) else None
                if not isinstance(resource, dict):
                    continue
                if resource.get("resourceType") == "OperationOutcome":
                    result.notes.append(f"fhirServer reported: {outcome_text(resource)}")
                    continue
                result.resources.append(resource)
            next_url = next_link(body)
        return result

    def _get(self, url: str) -> dict[str, Any]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FhirServerError("the time budget for FHIR callbacks ran out")
        headers = {"Accept": FHIR_JSON}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        started = time.monotonic()
        try:
            with requests.get(
                url,
                headers=headers,
                timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                content = self._read_body(response)
        except requests.Timeout as exc:
            raise FhirServerError("fhirServer did not answer in time") from exc
        except requests.RequestException as exc:
            raise FhirServerError(
                f"fhirServer could not be reached ({type(exc).__name__})"
            ) from exc
        log.info(
            "fhir callback",
            extra={
                "fhir_resource": self.resource_type(url),
                "status": status,
                "ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        if status in (401, 403):
            raise FhirServerError(f"fhirServer refused access (HTTP {status})")
        if status >= 300:
            raise FhirServerError(f"fhirServer answered HTTP {status}")
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise FhirServerError("fhirServer answered with a body that is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirServerError("fhirServer answered JSON that is not a FHIR resource")
        return body

    def _read_body(self, response: requests.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(chunk_size=65536):
            size += len(chunk)
            if size > self.max_response_bytes:
                raise FhirServerError(
                    f"fhirServer response exceeds {self.max_response_bytes} bytes"
                )
            if time.monotonic() > self.deadline:
                raise FhirServerError("the time budget for FHIR callbacks ran out")
            chunks.append(chunk)
        return b"".join(chunks)


def next_link(bundle: dict[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next" and link.get("url"):
            return str(link["url"])
    return None


def outcome_text(outcome: dict[str, Any]) -> str:
    """Summarise an OperationOutcome's issues: 'error (timeout): backend slow; ...'."""
    texts = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        detail = issue.get("diagnostics") or (issue.get("details") or {}).get("text")
        text = f"{issue.get('severity', 'unknown')} ({issue.get('code', 'unknown')})"
        texts.append(f"{text}: {detail}" if detail else text)
    return "; ".join(texts) or "OperationOutcome without issues"

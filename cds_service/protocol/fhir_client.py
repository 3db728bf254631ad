"""Fetch FHIR data from the client's fhirServer, within a time budget.

* Every socket read is bounded by the read timeout, and the deadline is checked between
  reads (``bounded_read``), so a server that drips its body cannot hold a worker past the
  budget plus one read timeout.
* Responses are capped in size; redirects are not followed (one could carry the bearer token
  to another host); ``next`` links are followed up to a page cap and only while they stay under
  fhirServer.
* The session ignores the host's environment (proxies, ``.netrc``), so no stray credential is
  sent to a server the caller named.
* Failures become ``FhirServerError``, whose message names no patient and never the token.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import orjson
import requests
import urllib3

from cds_service.metrics import FHIR_CALLBACKS, FHIR_FAILURES
from cds_service.protocol.bounded_read import BodyTooLarge, BodyTooSlow, read_body
from cds_service.protocol.fhirjson import (
    bundle_entries,
    has_error,
    is_resource,
    next_link,
    outcome_text,
)

__all__ = ["FhirClient", "FhirServerError", "SearchResult"]

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
        self._session = requests.Session()
        self._session.trust_env = False

    def __repr__(self) -> str:
        return f"FhirClient({self.base_url!r})"

    def close(self) -> None:
        self._session.close()

    def url_for(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def on_server(self, url: str) -> bool:
        """True when ``url`` lies under fhirServer: same origin, under its path, no dot segments."""
        target, base = urlsplit(url), urlsplit(self.base_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            return False
        segments = unquote(target.path).split("/")
        if any(segment in (".", "..") for segment in segments):
            return False
        return (target.path.rstrip("/") + "/").startswith(base.path.rstrip("/") + "/")

    def resource_type(self, url: str) -> str:
        """The resource type a URL addresses, for logs: paths and queries can hold patient ids."""
        base_path = urlsplit(self.base_url).path.rstrip("/")
        first = urlsplit(url).path.removeprefix(base_path).strip("/").split("/", 1)[0]
        return first if first.isalpha() else "(page)"

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any]:
        """GET ``Type/id``; the answer must be that resource, not another."""
        url = self.url_for(f"{resource_type}/{quote(resource_id, safe='')}")
        if resource_id in (".", "..") or not self.on_server(url):
            raise FhirServerError("the id to read does not name a resource on fhirServer")
        body = self._get(url)
        if body.get("resourceType") != resource_type or body.get("id") != resource_id:
            raise FhirServerError(
                f"fhirServer answered a {body.get('resourceType')} that is not the "
                f"{resource_type} asked for"
            )
        return body

    def search(self, relative: str, resource_type: str) -> SearchResult:
        """Run a search and follow ``next`` links up to the page cap."""
        return self.follow(self.url_for(relative), resource_type)

    def follow(
        self, url: str, resource_type: str, result: SearchResult | None = None
    ) -> SearchResult:
        """Fetch the searchset page at ``url`` and the pages after it, adding to ``result``."""
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
            if body.get("resourceType") == "OperationOutcome":
                raise FhirServerError(
                    f"fhirServer answered an OperationOutcome: {outcome_text(body)}"
                )
            if body.get("resourceType") != "Bundle":
                raise FhirServerError(f"fhirServer answered a {body['resourceType']}, not a Bundle")
            resources, outcomes, _ = bundle_entries(body)
            kept = [r for r in resources if r["resourceType"] == resource_type]
            if len(kept) < len(resources):
                result.notes.append(
                    f"{len(resources) - len(kept)} resources of other types ignored"
                )
            result.resources.extend(kept)
            for outcome in outcomes:
                result.notes.append(f"fhirServer reported: {outcome_text(outcome)}")
                if has_error(outcome):
                    result.complete = False
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
            with self._session.get(
                url,
                headers=headers,
                timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
                stream=True,
                allow_redirects=False,
            ) as response:
                status = response.status_code
                content = self._read_body(response) if status < 300 else b""
        except (requests.Timeout, urllib3.exceptions.TimeoutError) as exc:
            FHIR_FAILURES.labels("timeout").inc()
            raise FhirServerError("fhirServer did not answer in time") from exc
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            FHIR_FAILURES.labels("unreachable").inc()
            raise FhirServerError(
                f"fhirServer could not be reached ({type(exc).__name__})"
            ) from exc
        elapsed = time.monotonic() - started
        log.info(
            "fhir callback",
            extra={
                "fhir_resource": self.resource_type(url),
                "status": status,
                "ms": round(elapsed * 1000, 1),
            },
        )
        FHIR_CALLBACKS.labels(self.resource_type(url), str(status)).observe(elapsed)
        if status >= 300:
            FHIR_FAILURES.labels(f"http-{status // 100}xx").inc()
        if status in (401, 403):
            raise FhirServerError(f"fhirServer refused access (HTTP {status})")
        if status >= 300:
            raise FhirServerError(f"fhirServer answered HTTP {status}")
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise FhirServerError("fhirServer answered with a body that is not JSON") from exc
        if not is_resource(body):
            raise FhirServerError("fhirServer answered JSON that is not a FHIR resource")
        return body

    def _read_body(self, response: requests.Response) -> bytes:
        try:
            return read_body(response, max_bytes=self.max_response_bytes, deadline=self.deadline)
        except BodyTooLarge:
            raise FhirServerError(
                f"fhirServer response exceeds {self.max_response_bytes} bytes"
            ) from None
        except BodyTooSlow:
            raise FhirServerError("the time budget for FHIR callbacks ran out") from None

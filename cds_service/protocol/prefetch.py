"""Prefetch: fill templates, judge what the client sent, fetch what is missing.

Each prefetch key ends in one state:

* ``prefetched``  the client sent it (a resource, or a searchset with every page);
* ``empty``       the client sent ``null``: known to have no data (spec §Prefetch);
* ``fetched``     we got it from fhirServer;
* ``incomplete``  we have some of it: a ``next`` link we could not follow, an error
                  OperationOutcome beside the resources, or a page cap;
* ``unavailable`` we have none of it: absent, an OperationOutcome, not a FHIR resource, or not
                  what the template asks for, and fhirServer could not supply it.

Data must match its template: search results keep only the template's resource type, and a
read (``Patient/{{context.patientId}}``) must be that very resource, so a Patient with another
id is never taken for the patient in context. A key that is not ``prefetched``/``empty`` is
fetched from fhirServer when one is given. When a required key ends ``unavailable``, the call is
answered 412 (``PrefetchUnavailable``).
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cds_service.errors import PrefetchUnavailable
from cds_service.protocol.callback_policy import callback_refusal
from cds_service.protocol.fhir_client import FhirClient, FhirServerError, SearchResult
from cds_service.protocol.fhirjson import (
    bundle_entries,
    has_error,
    is_resource,
    next_link,
    outcome_text,
)

if TYPE_CHECKING:
    from cds_service.config import Settings
    from cds_service.protocol.discovery import Service
    from cds_service.protocol.models import HookRequest

__all__ = [
    "KeyResult",
    "KeyState",
    "PrefetchData",
    "Template",
    "classify",
    "fill_template",
    "resolve",
]

log = logging.getLogger(__name__)

TOKEN = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
USER_TOKENS = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}


class KeyState(StrEnum):
    PREFETCHED = "prefetched"
    EMPTY = "empty"
    FETCHED = "fetched"
    INCOMPLETE = "incomplete"
    UNAVAILABLE = "unavailable"


HAVE_DATA = {KeyState.PREFETCHED, KeyState.EMPTY, KeyState.FETCHED, KeyState.INCOMPLETE}


@dataclass(frozen=True)
class Template:
    """A prefetch template: a read (``Type/id``) or a type-level search (``Type?...``)."""

    text: str

    @property
    def resource_type(self) -> str:
        return self.text.split("?", 1)[0].split("/", 1)[0]

    @property
    def is_read(self) -> bool:
        return "/" in self.text.split("?", 1)[0]

    def read_id(self, filled: str) -> str | None:
        """The id a filled read template asks for (None for searches)."""
        return filled.split("?", 1)[0].split("/", 1)[1] if self.is_read else None


@dataclass
class KeyResult:
    key: str
    state: KeyState
    resources: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    next_url: str | None = None


@dataclass
class PrefetchData:
    """The outcome of every prefetch key, and the resources gathered across them."""

    keys: dict[str, KeyResult]

    def state(self, key: str) -> KeyState:
        return self.keys[key].state

    def by_type(
        self, keep: Callable[[dict[str, Any]], bool] = lambda _: True
    ) -> dict[str, list[dict[str, Any]]]:
        """The resources of every key that ``keep`` accepts, each ``Type/id`` once, grouped by
        type in the order the keys and their entries came."""
        seen: set[tuple[str, str]] = set()
        grouped: dict[str, list[dict[str, Any]]] = {}
        for result in self.keys.values():
            for res in result.resources:
                rtype = str(res.get("resourceType"))
                rid = res.get("id")
                if isinstance(rid, str):
                    if (rtype, rid) in seen:
                        continue
                    seen.add((rtype, rid))
                if keep(res):
                    grouped.setdefault(rtype, []).append(res)
        return grouped

    def gaps(self) -> dict[str, KeyResult]:
        """Keys whose data is missing or partial, for 'data not available' reporting."""
        return {
            k: r
            for k, r in self.keys.items()
            if r.state in (KeyState.INCOMPLETE, KeyState.UNAVAILABLE)
        }


def fill_template(template: str, context: dict[str, Any]) -> str | None:
    """Replace ``{{context.x}}`` and ``{{userPractitionerId}}``-style tokens.

    Returns None when a token cannot be filled (absent or non-primitive field), so the key is
    skipped rather than queried wrongly.
    Usage: ``fill_template("Patient/{{context.patientId}}", {"patientId": "p1"})  # "Patient/p1"``
    """
    missing = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        value: Any = None
        if name.startswith("context."):
            value = context.get(name.removeprefix("context."))
        elif name in USER_TOKENS:
            rtype, _, rid = str(context.get("userId", "")).partition("/")
            value = rid if rtype == USER_TOKENS[name] and rid else None
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            missing = True
            return ""
        return quote(str(value), safe="/")  # "{{context.userId}}" is a read: Practitioner/1

    filled = TOKEN.sub(substitute, template)
    return None if missing else filled


def classify(
    key: str, value: Any, *, present: bool, resource_type: str, read_id: str | None = None
) -> KeyResult:
    """Judge one prefetch value as the client sent it (spec P-07/P-08)."""
    if not present:
        return KeyResult(key, KeyState.UNAVAILABLE, notes=["not prefetched"])
    if value is None:
        return KeyResult(key, KeyState.EMPTY)
    if not is_resource(value):
        return KeyResult(
            key, KeyState.UNAVAILABLE, notes=["prefetch value is not a FHIR resource; ignored"]
        )
    if value["resourceType"] == "OperationOutcome":
        return KeyResult(
            key, KeyState.UNAVAILABLE, notes=[f"client could not prefetch: {outcome_text(value)}"]
        )

    result = KeyResult(key, KeyState.PREFETCHED)
    errored = False
    if value["resourceType"] == "Bundle":
        resources, outcomes, skipped = bundle_entries(value)
        if skipped:
            result.notes.append(f"{skipped} searchset entries without a resource were ignored")
        for outcome in outcomes:
            result.notes.append(f"client reported: {outcome_text(outcome)}")
            errored = errored or has_error(outcome)
        result.next_url = None if errored else next_link(value)
    else:
        resources = [value]
    result.resources = [r for r in resources if r["resourceType"] == resource_type]
    if len(result.resources) < len(resources):
        result.notes.append(
            f"{len(resources) - len(result.resources)} resources that are not "
            f"{resource_type} were ignored"
        )

    if read_id is not None:
        result.resources = [r for r in result.resources if r.get("id") == read_id][:1]
        result.next_url = None
        if not result.resources:
            result.notes.append(f"the prefetched data holds no {resource_type} for this context")
            result.state = KeyState.UNAVAILABLE
            return result
    if errored:
        result.state = KeyState.INCOMPLETE if result.resources else KeyState.UNAVAILABLE
    elif result.next_url:
        result.state = KeyState.INCOMPLETE
        result.notes.append("the searchset has more pages")
    return result


def resolve(
    service: Service, request: HookRequest, settings: Settings, issuer: str | None = None
) -> PrefetchData:
    """Classify every templated key, fetch the gaps from fhirServer, enforce requirements.

    ``issuer`` is the verified caller, whose own FHIR servers join the callback allowlist.
    """
    sent = request.prefetch or {}
    keys: dict[str, KeyResult] = {}
    for key, text in service.prefetch.items():
        template = Template(text)
        filled = fill_template(text, request.context)
        keys[key] = classify(
            key,
            sent.get(key),
            present=key in sent,
            resource_type=template.resource_type,
            read_id=template.read_id(filled) if filled else None,
        )
    gaps = [k for k, r in keys.items() if r.state in (KeyState.UNAVAILABLE, KeyState.INCOMPLETE)]

    refusal = callback_refusal(request.fhirServer, issuer, settings) if request.fhirServer else None
    if gaps and refusal:
        log.warning("fhir callback refused", extra={"reason": refusal})
        for k in gaps:
            keys[k].notes.append(f"it was not fetched: {refusal}")
    elif gaps and request.fhirServer:
        _fetch(gaps, keys, service, request, settings)
    elif gaps:
        for k in gaps:
            keys[k].notes.append("no fhirServer was given to fetch it from")

    failures = {
        k: "; ".join(keys[k].notes) or "not available"
        for group in service.required
        if not any(keys[k].state in HAVE_DATA for k in group)
        for k in group
    }
    if failures:
        raise PrefetchUnavailable(service.id, failures)
    return PrefetchData(keys)


def _fetch(
    gaps: list[str],
    keys: dict[str, KeyResult],
    service: Service,
    request: HookRequest,
    settings: Settings,
) -> None:
    deadline = time.monotonic() + settings.fhir_budget_s
    auth = request.fhirAuthorization
    client = FhirClient(
        str(request.fhirServer),
        access_token=auth.access_token.get_secret_value() if auth else None,
        deadline=deadline,
        connect_timeout=settings.fhir_connect_timeout_s,
        read_timeout=settings.fhir_read_timeout_s,
        max_pages=settings.fhir_max_pages,
        max_response_bytes=settings.fhir_max_response_bytes,
    )

    def fetch_one(key: str) -> SearchResult:
        template = Template(service.prefetch[key])
        current = keys[key]
        if current.next_url:
            partial = SearchResult(resources=list(current.resources), pages=1)
            return client.follow(current.next_url, template.resource_type, partial)
        query = fill_template(template.text, request.context)
        if query is None:
            raise FhirServerError("its template has a token this request cannot fill")
        read_id = template.read_id(query)
        if read_id is not None:
            resource = client.read(template.resource_type, read_id)
            return SearchResult(resources=[resource], pages=1)
        return client.search(query, template.resource_type)

    pool = ThreadPoolExecutor(max_workers=min(len(gaps), settings.fhir_max_parallel))
    try:
        # Each task runs in a copy of this context, so its log lines keep the request id.
        futures = {pool.submit(contextvars.copy_context().run, fetch_one, k): k for k in gaps}
        wait(futures, timeout=max(0.0, deadline - time.monotonic()) + 0.05)
        for future, key in futures.items():
            _apply(keys[key], future)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        client.close()


def _apply(result: KeyResult, future: Future[SearchResult]) -> None:
    if not future.done():
        result.notes.append("fhirServer did not answer within the time budget")
        return
    error = future.exception()
    if error is not None:
        if not isinstance(error, FhirServerError):
            log.error("unexpected error during FHIR callback", exc_info=error)
            result.notes.append("fetching it failed unexpectedly")
        else:
            result.notes.append(str(error))
        return
    fetched = future.result()
    continued = result.next_url is not None
    result.resources = fetched.resources
    result.notes.extend(fetched.notes)
    result.next_url = None
    if not fetched.complete:
        result.state = KeyState.INCOMPLETE
    else:
        result.state = KeyState.PREFETCHED if continued else KeyState.FETCHED

"""May this service call the request's ``fhirServer``? (checklist §5 A-01..A-07; design.md §7)

A hook request names the server to read from, so an unchecked callback would let any caller
point this service at internal hosts (SSRF). A callback is made only to a server on the global
allowlist or on the calling issuer's list, and only over https, unless configuration allows
plain http to this machine for development. Full prefetch needs no callback, so the policy is
applied only when one is actually needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from cds_service.config import Settings

__all__ = ["callback_refusal"]

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def callback_refusal(server: str, issuer: str | None, settings: Settings) -> str | None:
    """Why ``server`` may not be called, or None when it may."""
    parts = urlsplit(server)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (
        parts.scheme == "http" and settings.fhir_allow_http_loopback and host in LOOPBACK_HOSTS
    ):
        return "fhirServer must use https"
    allowed = list(settings.fhir_server_allowlist)
    for trusted in settings.trusted_issuers:
        if trusted.iss == issuer:
            allowed += trusted.fhir_servers
    if not any(_within(server, entry) for entry in allowed):
        return "fhirServer is not on this service's allowlist"
    return None


def _within(server: str, entry: str) -> bool:
    """Same scheme and host; the same port unless the entry names none; under the entry's path."""
    s, e = urlsplit(server), urlsplit(entry.rstrip("/"))
    try:
        same_port = e.port is None or s.port == e.port
    except ValueError:
        return False
    path = s.path.rstrip("/")
    return (
        s.scheme == e.scheme
        and (s.hostname or "").lower() == (e.hostname or "").lower() != ""
        and same_port
        and (path == e.path or path.startswith(e.path + "/"))
    )

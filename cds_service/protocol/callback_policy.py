"""May this service call the request's ``fhirServer``? (README, Security)

A hook request names the server to read from, so an unchecked callback would let any caller
point this service at internal hosts (SSRF). A callback is made only to a server on the global
allowlist or on the calling issuer's list, and only over https, unless configuration allows
plain http to this machine for development. Full prefetch needs no callback, so the policy is
applied only when one is actually needed.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from cds_service.config import LOOPBACK_HOSTS, Settings

__all__ = ["callback_refusal"]


def callback_refusal(server: str, issuer: str | None, settings: Settings) -> str | None:
    """Why ``server`` may not be called, or None when it may."""
    parts = urlsplit(server)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" and not (
        parts.scheme == "http" and settings.fhir_allow_http_loopback and host in LOOPBACK_HOSTS
    ):
        return "fhirServer must use https"
    if any(segment in (".", "..") for segment in unquote(parts.path).split("/")):
        return "fhirServer must not contain dot segments"
    allowed = list(settings.fhir_server_allowlist)
    for trusted in settings.trusted_issuers:
        if trusted.iss == issuer:
            allowed += trusted.fhir_servers
    if not any(_within(server, entry) for entry in allowed):
        return "fhirServer is not on this service's allowlist"
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}
ANY_PORT = ":*"


def _within(server: str, entry: str) -> bool:
    """Same scheme, host and port (a missing port is the scheme's default; ``host:*`` is any
    port, for development), and under the entry's path."""
    s, e = urlsplit(server), urlsplit(entry.rstrip("/"))
    any_port = e.netloc.endswith(ANY_PORT)
    if any_port:
        e = e._replace(netloc=e.netloc.removesuffix(ANY_PORT))
    try:
        server_port = s.port or DEFAULT_PORTS.get(s.scheme)
        same_port = any_port or server_port == (e.port or DEFAULT_PORTS.get(e.scheme))
    except ValueError:
        return False
    path = s.path.rstrip("/")
    return (
        s.scheme == e.scheme
        and (s.hostname or "").lower() == (e.hostname or "").lower() != ""
        and same_port
        and (path == e.path or path.startswith(e.path + "/"))
    )

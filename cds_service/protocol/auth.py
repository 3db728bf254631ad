"""Verify the JWT a calling EHR signs (CDS Hooks 2.0 §Trusting CDS Clients; checklist §8).

1. ``Authorization: Bearer <JWT>``; the header's ``alg`` must be one of the configured
   asymmetric algorithms (never ``none`` or ``HS*``, so no algorithm confusion).
2. ``iss`` must be a trusted issuer. A ``jku`` must be on that issuer's list, checked before any
   fetch. Keys come from the issuer's JWKS file or its allowlisted JWKS URLs, looked up by
   ``kid``; an unknown ``kid`` refetches, at most once per ``jwks_refresh_interval_s``.
3. The signature, ``exp`` and ``iat`` (with leeway), and ``aud``: the public base URL plus the
   request path, as a string or a one-element array, with slashes normalised.
4. ``jti`` must be new: it is remembered until the token expires (shared across workers).
5. ``tenant``, when the issuer lists tenants, must be one of them. ``sub`` and ``nbf`` are
   tolerated; the spec requires neither.

Any failure is a 401 whose body says only "missing or invalid token"; the reason goes to the log,
never the token itself.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
import requests

from cds_service.config import Settings, TrustedIssuer
from cds_service.errors import CdsError

__all__ = ["TokenVerifier", "Unauthorized", "normalise_url"]

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1024 * 1024
_SLASHES = re.compile(r"(?<!:)/{2,}")


class Unauthorized(CdsError):
    status = 401
    issue_code = "security"
    error_code = "invalid-token"

    def __init__(self, reason: str) -> None:
        super().__init__("missing or invalid token")
        self.reason = reason


def normalise_url(url: str) -> str:
    """Collapse repeated slashes after the scheme and drop a trailing slash."""
    return _SLASHES.sub("/", url.strip()).rstrip("/")


@dataclass
class _KeySource:
    keys: dict[str | None, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = 0.0


class TokenVerifier:
    """Checks tokens against the trusted issuers; ``remember_jti(jti, iss, exp)`` is False for a
    replay."""

    def __init__(self, settings: Settings, remember_jti: Callable[[str, str, float], bool]) -> None:
        self.settings = settings
        self.remember_jti = remember_jti
        self.issuers: dict[str, TrustedIssuer] = {i.iss: i for i in settings.trusted_issuers}
        self._sources: dict[str, _KeySource] = {}
        self._lock = threading.Lock()
        for issuer in self.issuers.values():
            if issuer.jwks_file is not None:
                self._sources[f"file:{issuer.jwks_file}"] = _KeySource(
                    self._parse_jwks(issuer.jwks_file.read_text(encoding="utf-8")), time.time()
                )

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized with the reason."""
        if not authorization or not authorization.startswith("Bearer "):
            raise Unauthorized("no bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token ({type(exc).__name__})") from None
        alg = header.get("alg")
        if alg not in self.settings.jwt_algorithms:
            raise Unauthorized(f"algorithm {str(alg)[:16]!r} is not accepted")
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("issuer is not trusted")
        jku = header.get("jku")
        if jku is not None and normalise_url(str(jku)) not in {
            normalise_url(u) for u in issuer.jku
        }:
            raise Unauthorized("jku is not on the issuer's allowlist")
        key = self._key(issuer, header.get("kid"), str(jku) if jku else None)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_aud": False},
                issuer=issuer.iss,
                leeway=self.settings.jwt_leeway_s,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"token rejected ({type(exc).__name__})") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) != 1 or normalise_url(str(audiences[0])) != normalise_url(audience):
            raise Unauthorized("aud does not name this endpoint")
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise Unauthorized("tenant is not allowed")
        if not self.remember_jti(str(claims["jti"]), issuer.iss, float(claims["exp"])):
            raise Unauthorized("jti was already used")
        return claims

    def _key(self, issuer: TrustedIssuer, kid: Any, jku: str | None) -> Any:
        sources = [f"file:{issuer.jwks_file}"] if issuer.jwks_file else []
        sources += [jku] if jku else list(issuer.jku)
        for source in sources:
            key = self._lookup(source, kid, refresh=False)
            if key is not None:
                return key.key
        for source in sources:
            if not source.startswith("file:"):
                key = self._lookup(source, kid, refresh=True)
                if key is not None:
                    return key.key
        raise Unauthorized("no key for this kid")

    def _lookup(self, source: str, kid: Any, *, refresh: bool) -> jwt.PyJWK | None:
        with self._lock:
            cached = self._sources.setdefault(source, _KeySource())
            stale = time.time() - cached.fetched_at >= self.settings.jwks_refresh_interval_s
            if refresh and not source.startswith("file:") and (stale or not cached.keys):
                cached.keys = self._fetch(source)
                cached.fetched_at = time.time()
            keys = cached.keys
        if kid is None and len(keys) == 1:  # some clients omit kid; one key is unambiguous
            return next(iter(keys.values()))
        return keys.get(str(kid)) if kid is not None else None

    def _fetch(self, url: str) -> dict[str | None, jwt.PyJWK]:
        session = requests.Session()
        session.trust_env = False
        try:
            with session.get(
                url, timeout=self.settings.jwks_fetch_timeout_s, stream=True, allow_redirects=False
            ) as response:
                body = response.raw.read(MAX_JWKS_BYTES + 1, decode_content=True)
                if response.status_code != 200 or len(body) > MAX_JWKS_BYTES:
                    log.warning("jwks fetch failed", extra={"status": response.status_code})
                    return {}
        except requests.RequestException as exc:
            log.warning("jwks fetch failed", extra={"error": type(exc).__name__})
            return {}
        finally:
            session.close()
        return self._parse_jwks(body.decode("utf-8", "replace"))

    def _parse_jwks(self, text: str) -> dict[str | None, jwt.PyJWK]:
        keys: dict[str | None, jwt.PyJWK] = {}
        try:
            document = json.loads(text)
        except ValueError:
            return keys
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
                continue  # symmetric (oct) keys are never accepted
            try:
                keys[entry.get("kid")] = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue
        return keys

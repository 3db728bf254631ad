"""Verify the JWT a calling EHR signs (CDS Hooks 2.0 §Trusting CDS Clients).

1. ``Authorization: Bearer <JWT>``; the header's ``alg`` must be one of the configured
   asymmetric algorithms (never ``none`` or ``HS*``, so no algorithm confusion).
2. ``iss`` must be a trusted issuer. A ``jku`` must be on that issuer's list, checked before any
   fetch, unless the issuer's keys are pinned in a JWKS file (then an unlisted ``jku`` is
   ignored). Keys come from the issuer's JWKS file or its allowlisted JWKS URLs, looked up by
   ``kid``, and must fit ``alg``; an unknown ``kid`` reloads each source at most once per
   ``jwks_refresh_interval_s``.
3. ``exp``, ``iat`` and ``nbf`` are JSON numbers from 0 to 2^53, and ``exp`` is at most
   ``jwt_max_lifetime_s`` after ``iat`` and after now. Then the signature, ``exp`` and ``iat``
   (with leeway), and ``aud``: a public base URL plus the request path, as a string or a
   one-element array, with slashes normalised.
4. ``jti`` must be new: it is remembered until the token expires (shared across workers).
5. ``tenant``, when the issuer lists tenants, must be one of them. ``sub`` and ``nbf`` may be
   left out; the spec requires neither.

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
from pathlib import Path
from typing import Any

import jwt
import requests
import urllib3

from cds_service.config import Settings, TrustedIssuer
from cds_service.errors import CdsError
from cds_service.protocol.bounded_read import BodyTooLarge, BodyTooSlow, read_body

__all__ = ["TokenVerifier", "Unauthorized", "normalise_url", "parse_jwks"]

log = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1024 * 1024
TIME_CLAIMS = ("exp", "iat", "nbf")
MAX_TIME = 2**53  # past it a JSON number is no longer an exact integer
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


KEY_TYPES = {"ES": "EC", "RS": "RSA", "PS": "RSA"}
CURVES = {"ES256": "P-256", "ES384": "P-384"}


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    kty: str
    alg: str | None
    crv: str | None


@dataclass
class _KeySource:
    """One JWKS: a configured URL or file. ``lock`` lets one refresh per source run at a time."""

    location: str
    keys: dict[str, _Key] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class TokenVerifier:
    """Checks tokens against the trusted issuers; ``remember_jti(jti, iss, exp)`` is False for a
    replay, and raises ValueError for a jti it cannot store."""

    def __init__(self, settings: Settings, remember_jti: Callable[[str, str, float], bool]) -> None:
        self.settings = settings
        self.remember_jti = remember_jti
        self.issuers: dict[str, TrustedIssuer] = {i.iss: i for i in settings.trusted_issuers}
        self._sources: dict[str, _KeySource] = {}
        for issuer in self.issuers.values():
            for location in self._locations(issuer):
                self._sources.setdefault(location, _KeySource(location))
            if issuer.jwks_file is not None:
                self._refresh(self._sources[f"file:{issuer.jwks_file}"])

    def verify(self, authorization: str | None, audiences: list[str]) -> dict[str, Any]:
        """The token's claims, or Unauthorized with the reason. ``audiences``: the URLs the
        token's ``aud`` may name (one per public base URL)."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("no bearer token")
        token = token.strip()
        try:
            unverified = jwt.decode_complete(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"malformed token ({type(exc).__name__})") from None
        header, payload = unverified["header"], unverified["payload"]
        alg = header.get("alg")
        if alg not in self.settings.jwt_algorithms:
            raise Unauthorized(f"algorithm {str(alg)[:16]!r} is not accepted")
        if str(header.get("typ", "JWT")).upper() != "JWT":
            raise Unauthorized("typ is not JWT")
        iss = payload.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise Unauthorized("issuer is not trusted")
        self._check_times(payload)
        key = self._key(issuer, header.get("kid"), header.get("jku"), str(alg))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[str(alg)],
                options={"require": ["iss", "aud", "exp", "iat", "jti"], "verify_aud": False},
                issuer=issuer.iss,
                leeway=self.settings.jwt_leeway_s,
            )
        except (jwt.PyJWTError, TypeError, ValueError) as exc:
            raise Unauthorized(f"token rejected ({type(exc).__name__})") from None
        named = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        allowed = {normalise_url(audience) for audience in audiences}
        if len(named) != 1 or normalise_url(str(named[0])) not in allowed:
            raise Unauthorized("aud does not name this endpoint")
        if issuer.tenants and claims.get("tenant") not in issuer.tenants:
            raise Unauthorized("tenant is not allowed")
        try:
            first_use = self.remember_jti(str(claims["jti"]), issuer.iss, float(claims["exp"]))
        except ValueError as exc:
            raise Unauthorized(f"{exc}; the replay table cannot hold it") from None
        if not first_use:
            raise Unauthorized("jti was already used")
        return claims

    def _check_times(self, payload: dict[str, Any]) -> None:
        """``exp``, ``iat`` and ``nbf`` must be JSON numbers in range (PyJWT takes numeric
        strings), and the token may live at most ``jwt_max_lifetime_s``: counted from ``iat``,
        and from now, so that a back-dated ``iat`` cannot stretch it."""
        for claim in TIME_CLAIMS:
            value = payload.get(claim)
            if value is None:
                continue  # a missing exp or iat is refused with the signature check
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise Unauthorized(f"{claim} is not a number")
            if not 0 <= value < MAX_TIME:  # NaN and infinities fail this too
                raise Unauthorized(f"{claim} is out of range")
        exp, iat = payload.get("exp"), payload.get("iat")
        longest = self.settings.jwt_max_lifetime_s
        if exp is not None and (
            (iat is not None and exp - iat > longest)
            or exp - time.time() > longest + self.settings.jwt_leeway_s
        ):
            raise Unauthorized(f"the token lives longer than {longest} s")

    @staticmethod
    def _locations(issuer: TrustedIssuer) -> list[str]:
        files = [f"file:{issuer.jwks_file}"] if issuer.jwks_file else []
        return files + list(issuer.jku)

    def _key(self, issuer: TrustedIssuer, kid: Any, jku: Any, alg: str) -> Any:
        """The issuer's key for ``kid`` that fits ``alg``; an unknown kid refreshes, rate-limited.

        A ``jku`` must match one of the issuer's URLs; the configured spelling is what is cached
        and fetched, so spelling variants cannot multiply fetches. An issuer with a JWKS file
        has its keys pinned: there a ``jku`` off the list selects nothing and fetches nothing.
        """
        locations = self._locations(issuer)
        if jku is not None:
            wanted = normalise_url(str(jku))
            urls = [u for u in issuer.jku if normalise_url(u) == wanted]
            if not urls and issuer.jwks_file is None:
                raise Unauthorized("jku is not on the issuer's allowlist")
            locations = [loc for loc in locations if loc.startswith("file:")] + urls[:1]
        sources = [self._sources[loc] for loc in locations]
        for refresh in (False, True):
            for source in sources:
                if refresh:
                    self._refresh(source)
                key = self._pick(source.keys, kid)
                if key is not None:
                    return self._fitting(key, alg)
        raise Unauthorized("no key for this kid")

    @staticmethod
    def _pick(keys: dict[str, _Key], kid: Any) -> _Key | None:
        if kid is None and len(keys) == 1:  # some clients omit kid; one key is unambiguous
            return next(iter(keys.values()))
        return keys.get(kid) if isinstance(kid, str) else None

    @staticmethod
    def _fitting(key: _Key, alg: str) -> Any:
        """Refuse a key whose type or curve does not fit ``alg``, or whose JWK names another alg."""
        if (
            key.kty != KEY_TYPES.get(alg[:2])
            or (key.alg is not None and key.alg != alg)
            or (alg in CURVES and key.crv != CURVES[alg])
        ):
            raise Unauthorized(f"the key for this kid does not fit {alg}")
        return key.jwk.key

    def _refresh(self, source: _KeySource) -> None:
        """Reload a source unless it was loaded (or failed) within the refresh interval."""
        if not source.lock.acquire(blocking=False):
            with source.lock:  # another request is refreshing it; use what that one finds
                return
        try:
            if time.monotonic() - source.fetched_at < self.settings.jwks_refresh_interval_s:
                return
            source.fetched_at = time.monotonic()
            text = self._read(source.location)
            if text is not None:
                source.keys = parse_jwks(text)
        finally:
            source.lock.release()

    def _read(self, location: str) -> str | None:
        if location.startswith("file:"):
            try:
                return Path(location.removeprefix("file:")).read_text(encoding="utf-8")
            except OSError as exc:
                log.warning("jwks file unreadable", extra={"error": type(exc).__name__})
                return None
        timeout = self.settings.jwks_fetch_timeout_s
        deadline = time.monotonic() + timeout
        session = requests.Session()
        session.trust_env = False
        try:
            with session.get(
                location, timeout=timeout, stream=True, allow_redirects=False
            ) as response:
                if response.status_code != 200:
                    log.warning("jwks fetch failed", extra={"status": response.status_code})
                    return None
                body = read_body(response, max_bytes=MAX_JWKS_BYTES, deadline=deadline)
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            BodyTooLarge,
            BodyTooSlow,
        ) as exc:
            log.warning("jwks fetch failed", extra={"error": type(exc).__name__})
            return None
        finally:
            session.close()
        return body.decode("utf-8", "replace")


def parse_jwks(text: str) -> dict[str, _Key]:
    """The usable EC and RSA keys of a JWKS document, by kid; anything else is skipped."""

    keys: dict[str, _Key] = {}
    try:
        document = json.loads(text)
    except ValueError:
        return keys
    entries = document.get("keys") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("kty") not in ("EC", "RSA"):
            continue  # symmetric (oct) keys are never accepted
        try:
            jwk = jwt.PyJWK(entry)
        except (jwt.PyJWTError, TypeError, ValueError):
            continue
        alg, crv = entry.get("alg"), entry.get("crv")
        keys[str(entry.get("kid", ""))] = _Key(
            jwk,
            str(entry["kty"]),
            alg if isinstance(alg, str) else None,
            crv if isinstance(crv, str) else None,
        )
    return keys

"""SMART App Launch 2.x, EHR launch: discovery, the authorization request and the token exchange.

The OAuth 2 protocol itself (the PKCE S256 challenge, the request encodings, client
authentication, error responses) is Authlib's. This module chooses what to ask for and checks
what comes back: endpoints over https (plain http only to this machine, with the development
flag), read-only patient scopes for exactly the resource types the service reads, and a token
response that carries a bearer ``access_token`` and the ``patient`` in context.

SMART App Launch 2.2.0: http://hl7.org/fhir/smart-app-launch/STU2.2/app-launch.html
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import requests
import urllib3
from authlib.common.errors import AuthlibBaseError
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from cds_service.config import LOOPBACK_HOSTS, Settings, SmartClient, scheme_and_host
from cds_service.protocol.bounded_read import BodyTooLarge, BodyTooSlow, read_body
from cds_service.protocol.models import FHIR_ID_PATTERN
from cds_service.protocol.prefetch import Template
from cds_service.smartapp.chart import view_settings
from cds_service.smartapp.failures import LaunchFailure
from cds_service.smartapp.store import PendingLaunch, TokenGrant

__all__ = [
    "SmartServer",
    "authorization_url",
    "discover",
    "exchange",
    "new_verifier",
    "scopes",
]

DISCOVERY_PATH = "/.well-known/smart-configuration"
MAX_DISCOVERY_BYTES = 256 * 1024
DISCOVERY_TTL_S = 300.0
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
EXCHANGE_TIMEOUT_S = 10.0
FHIR_ID = re.compile(FHIR_ID_PATTERN)


def read_types() -> tuple[str, ...]:
    """The resource types the hooks read, and so the only ones the view asks to read."""
    from cds_service.services import KETAMINE_PREFETCH

    return tuple(dict.fromkeys(Template(t).resource_type for t in KETAMINE_PREFETCH.values()))


@dataclass(frozen=True)
class SmartServer:
    iss: str
    authorization_endpoint: str
    token_endpoint: str
    v2_scopes: bool
    issuer: str | None = None  # the authorization server's identifier, when it names one
    issuer_in_callback: bool = False  # RFC 9207: it adds ``iss`` to every callback


def scopes(server: SmartServer) -> str:
    """``launch`` and read-only patient scopes: SMART v2 ``.rs``, or v1 ``.read`` for a server
    that advertises only v1."""
    suffix = "rs" if server.v2_scopes else "read"
    return " ".join(["launch", *(f"patient/{t}.{suffix}" for t in read_types())])


def endpoint_refusal(url: str, settings: Settings) -> str | None:
    """Why the browser or this service may not be sent to ``url``, or None. The host is read as
    the HTTP client reads it; user info and backslashes are refused."""
    scheme, host = scheme_and_host(url)
    if scheme == "https" and host:
        return None
    if scheme == "http" and host in LOOPBACK_HOSTS and settings.fhir_allow_http_loopback:
        return None
    return "it is not an https URL"


class _Discovered:
    """Usable SMART configurations by FHIR server, for ``DISCOVERY_TTL_S``: a launch anyone can
    begin should not cost the EHR a fetch each time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, bool], tuple[float, SmartServer]] = {}

    def get(self, key: tuple[str, bool]) -> SmartServer | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    def put(self, key: tuple[str, bool], server: SmartServer) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + DISCOVERY_TTL_S, server)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


DISCOVERED = _Discovered()


def discover(iss: str, settings: Settings) -> SmartServer:
    """The SMART configuration of ``iss``, fetched at most every ``DISCOVERY_TTL_S``."""
    key = (iss, settings.fhir_allow_http_loopback)
    server = DISCOVERED.get(key)
    if server is None:
        server = _fetch_configuration(iss, settings)
        DISCOVERED.put(key, server)
    return server


def _fetch_configuration(iss: str, settings: Settings) -> SmartServer:
    """Read ``{iss}/.well-known/smart-configuration``; its endpoints must be usable."""
    budgeted = view_settings(settings)
    deadline = time.monotonic() + budgeted.fhir_budget_s
    url = iss + DISCOVERY_PATH
    session = requests.Session()
    session.trust_env = False
    try:
        with session.get(
            url,
            headers={"Accept": "application/json"},
            timeout=(budgeted.fhir_connect_timeout_s, budgeted.fhir_read_timeout_s),
            stream=True,
            allow_redirects=False,
        ) as response:
            status = response.status_code
            body = read_body(response, max_bytes=MAX_DISCOVERY_BYTES, deadline=deadline)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise LaunchFailure(
            "discovery", f"it could not be reached ({type(exc).__name__})"
        ) from None
    except (BodyTooLarge, BodyTooSlow):
        raise LaunchFailure("discovery", "its answer was too large or too slow") from None
    finally:
        session.close()
    if status != 200:
        raise LaunchFailure("discovery", f"it answered HTTP {status}")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise LaunchFailure("discovery", "its answer is not JSON") from None
    if not isinstance(document, dict):
        raise LaunchFailure("discovery", "its answer is not a JSON object")
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise LaunchFailure("discovery", f"it names no {name}")
        refusal = endpoint_refusal(value, settings)
        if refusal:
            raise LaunchFailure("discovery", f"its {name} is refused: {refusal}")
        endpoints[name] = value
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise LaunchFailure("discovery", "it does not support PKCE with S256")
    issuer = document.get("issuer")
    return SmartServer(
        iss=iss,
        v2_scopes=_speaks_v2(document),
        issuer=issuer if isinstance(issuer, str) and issuer else None,
        issuer_in_callback=document.get("authorization_response_iss_parameter_supported") is True,
        **endpoints,
    )


def _speaks_v2(document: dict[str, Any]) -> bool:
    """v2 scopes unless the server advertises v1 only (SMART 2.x, scopes for requesting data)."""
    capabilities = document.get("capabilities")
    capabilities = capabilities if isinstance(capabilities, list) else []
    supported = document.get("scopes_supported")
    supported = [s for s in supported if isinstance(s, str)] if isinstance(supported, list) else []
    if "permission-v2" in capabilities or any(_is_v2_scope(s) for s in supported):
        return True
    v1 = "permission-v1" in capabilities or any(s.endswith(".read") for s in supported)
    return not v1


def _is_v2_scope(scope: str) -> bool:
    permissions = scope.rpartition(".")[2].split("?")[0]
    return "/" in scope and permissions != "" and set(permissions) <= set("cruds")


def new_verifier() -> str:
    """A PKCE code verifier: 64 characters from the unreserved set (RFC 7636 §4.1)."""
    return str(generate_token(64))


def authorization_url(
    server: SmartServer,
    client: SmartClient,
    *,
    redirect_uri: str,
    launch: str,
    state: str,
    verifier: str,
) -> str:
    """Where to send the browser: the authorization request, with the S256 challenge."""
    with OAuth2Session(
        client.client_id,
        scope=scopes(server),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    ) as oauth:
        url, _ = oauth.create_authorization_url(
            server.authorization_endpoint,
            state=state,
            code_verifier=verifier,
            launch=launch,
            aud=server.iss,
        )
    return str(url)


def exchange(
    pending: PendingLaunch, client: SmartClient, redirect_uri: str, code: str
) -> TokenGrant:
    """Trade the code for a token, once; the answer must name a bearer token and a patient."""
    secret = client.client_secret.get_secret_value() if client.client_secret else None
    deadline = time.monotonic() + EXCHANGE_TIMEOUT_S

    def bounded(response: requests.Response) -> requests.Response:
        # Authlib reads the answer whole; read it here first, within a size and a time limit.
        response._content = read_body(
            response, max_bytes=MAX_TOKEN_RESPONSE_BYTES, deadline=deadline
        )
        return response

    try:
        with OAuth2Session(
            client.client_id,
            secret,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        ) as oauth:
            oauth.trust_env = False
            oauth.register_compliance_hook("access_token_response", bounded)
            token = oauth.fetch_token(
                pending.token_endpoint,
                code=code,
                code_verifier=pending.code_verifier,
                timeout=EXCHANGE_TIMEOUT_S,
                allow_redirects=False,
                stream=True,
            )
    except AuthlibBaseError as exc:
        raise LaunchFailure("token", f"it refused the code ({_short(exc.error)})") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise LaunchFailure("token", f"it could not be used ({type(exc).__name__})") from None
    except (BodyTooLarge, BodyTooSlow):
        raise LaunchFailure("token", "its answer was too large or too slow") from None
    except ValueError:  # not a JSON object, or fields Authlib cannot read (expires_in: "soon")
        raise LaunchFailure("token", "its answer is malformed") from None
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise LaunchFailure("token", "its answer has no access_token")
    if str(token.get("token_type", "")).lower() != "bearer":
        raise LaunchFailure("token", "its answer is not a bearer token")
    patient = token.get("patient")
    if not isinstance(patient, str) or not FHIR_ID.fullmatch(patient):
        raise LaunchFailure("no-patient", "the authorization server named no patient")
    return TokenGrant(pending.iss, access_token, patient, _lifetime(token.get("expires_in")))


def _lifetime(expires_in: object) -> float | None:
    """Seconds the token lives: a number, or a numeric string as some servers send."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float | str):
        return None
    try:
        seconds = float(expires_in)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _short(text: object) -> str:
    """An OAuth error code, as the server sent it, cut to a loggable word."""
    words = str(text or "error")
    return "".join(ch for ch in words if ch.isalnum() or ch in "_-")[:40] or "error"

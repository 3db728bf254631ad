"""SMART mode for the fixture FHIR server: a test double of an EHR's authorization server.

It serves ``.well-known/smart-configuration``, an authorize endpoint that approves at once, with
no sign-in, for the fixture patient the ``launch`` parameter names, and a token endpoint that
checks the PKCE verifier and gives each code out once. Every FHIR request that carries a bearer
token must carry one it issued. It exists so that the TRD and course view can be launched
without an EHR; ``ketamine-cds fhir-server --smart`` binds loopback only.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import Flask, Response, jsonify, request

__all__ = ["SmartDouble", "add_smart_mode"]

TOKEN_LIFETIME_S = 3600
BANNER = (
    "SMART mode is a TEST DOUBLE: it approves every authorization at once, with no sign-in, "
    "for the fixture patient that `launch` names. For local development only"
)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    patient: str
    scope: str


@dataclass
class SmartDouble:
    """What the double has handed out and been asked, for tests to read."""

    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token: patient
    token_requests: int = 0
    bearer_requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _plain(status: int, text: str) -> Response:
    return Response(text + "\n", status=status, mimetype="text/plain")


def _oauth_error(error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = 400
    return response


def add_smart_mode(app: Flask, patients: set[str]) -> SmartDouble:
    double = SmartDouble()

    def base() -> str:
        return request.host_url.rstrip("/")

    @app.get("/.well-known/smart-configuration")
    def smart_configuration() -> Response:
        return jsonify(
            issuer=base(),
            authorization_endpoint=f"{base()}/auth/authorize",
            token_endpoint=f"{base()}/auth/token",
            token_endpoint_auth_methods_supported=["none", "client_secret_basic"],
            grant_types_supported=["authorization_code"],
            response_types_supported=["code"],
            code_challenge_methods_supported=["S256"],
            scopes_supported=["launch", "patient/*.rs", "patient/*.read"],
            capabilities=[
                "launch-ehr",
                "client-public",
                "client-confidential-symmetric",
                "context-ehr-patient",
                "permission-patient",
                "permission-v2",
            ],
        )

    @app.get("/auth/authorize")
    def authorize() -> Response:
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if urlsplit(redirect_uri).scheme not in ("http", "https"):
            return _plain(400, "redirect_uri must be an http or https URL")
        problem = None
        if args.get("response_type") != "code":
            problem = "response_type must be code"
        elif args.get("code_challenge_method") != "S256" or not args.get("code_challenge"):
            problem = "PKCE with code_challenge_method=S256 is required"
        elif args.get("aud", "").rstrip("/") != base():
            problem = f"aud must be this server, {base()}"
        elif args.get("launch") not in patients:
            problem = "launch must name a fixture patient"
        elif not args.get("client_id") or not args.get("state"):
            problem = "client_id and state are required"
        answer: dict[str, str] = {"state": args.get("state", "")}
        if problem:
            answer.update(error="invalid_request", error_description=problem)
        else:
            code = secrets.token_urlsafe(24)
            with double.lock:
                double.codes[code] = _Grant(
                    client_id=args["client_id"],
                    redirect_uri=redirect_uri,
                    challenge=args["code_challenge"],
                    patient=args["launch"],
                    scope=args.get("scope", ""),
                )
            answer["code"] = code
        separator = "&" if "?" in redirect_uri else "?"
        response = Response(status=302)
        response.headers["Location"] = redirect_uri + separator + urlencode(answer)
        return response

    @app.post("/auth/token")
    def token() -> Response:
        form = request.form
        with double.lock:
            double.token_requests += 1
            grant = double.codes.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return _oauth_error("invalid_grant", "unknown or used code")
        basic = request.authorization
        client_id = form.get("client_id") or (basic.username if basic else None)
        if client_id != grant.client_id or form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant", "client_id or redirect_uri differs")
        if _s256(form.get("code_verifier", "")) != grant.challenge:
            return _oauth_error("invalid_grant", "code_verifier does not match")
        access_token = secrets.token_urlsafe(32)
        with double.lock:
            double.tokens[access_token] = grant.patient
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_S,
            "scope": grant.scope,
            "patient": grant.patient,
        }
        return jsonify(body)

    @app.before_request
    def issued_tokens_only() -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header.lower().startswith("bearer ") or request.path.startswith("/auth/"):
            return None
        with double.lock:
            known = header[7:].strip() in double.tokens
            double.bearer_requests += known
        if not known:
            return _plain(401, "this bearer token was not issued by this server")
        return None

    return double

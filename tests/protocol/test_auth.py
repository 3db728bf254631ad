"""JWT from the calling EHR (spec §8): trusted issuers and keys, audience, replay, algorithms."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug import Request, Response

from tests.builders import FIXTURES

BASE = "https://cds.example.org"
ISSUER = "https://ehr.example.org"
SERVICE = "/cds-services/ketamine-trd-patient-view"
FEEDBACK = "/cds-services/ketamine-trd-patient-view/feedback"
BODY = (FIXTURES / "requests" / "sandbox-patient-view.json").read_text()

EC_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC_KEY = ec.generate_private_key(ec.SECP384R1())


def public_jwk(private_key: Any, kid: str, alg: str) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "alg": alg, "use": "sig"}


JWKS = {"keys": [public_jwk(EC_KEY, "ec-1", "ES384"), public_jwk(RSA_KEY, "rsa-1", "RS384")]}


def token(
    *,
    key: Any = EC_KEY,
    alg: str = "ES384",
    kid: str | None = "ec-1",
    jku: str | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": BASE + SERVICE,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    headers = {"typ": "JWT", **({"kid": kid} if kid else {}), **({"jku": jku} if jku else {})}
    return jwt.encode(payload, key, algorithm=alg, headers=headers)


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    path = tmp_path / "ehr-jwks.json"
    path.write_text(json.dumps(JWKS))
    return path


@pytest.fixture
def secured(make_app: Any, jwks_file: Path) -> Any:
    def build(**overrides: Any) -> Any:
        settings = {
            "auth_enabled": True,
            "public_base_url": BASE,
            "trusted_issuers": [{"iss": ISSUER, "jwks_file": str(jwks_file)}],
            **overrides,
        }
        return make_app(**settings).test_client()

    return build


def call(client: Any, bearer: str | None, path: str = SERVICE, body: str = BODY) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    return client.post(path, data=body, content_type="application/json", headers=headers)


def assert_refused(response: Any) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    [problem] = response.json["issue"]
    assert problem["code"] == "security"
    assert problem["diagnostics"] == "missing or invalid token"


def refusal_reasons(json_logs: Any) -> list[str]:
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    return [line["reason"] for line in lines if line.get("msg") == "token refused"]


@pytest.mark.parametrize(
    ("key", "alg", "kid"), [(EC_KEY, "ES384", "ec-1"), (RSA_KEY, "RS384", "rsa-1")]
)
def test_recommended_algorithms_are_accepted(secured, key, alg, kid) -> None:
    response = call(secured(), token(key=key, alg=alg, kid=kid))
    assert response.status_code == 200
    assert response.json["cards"][0]["source"]["topic"]["code"] == "ketamine-eligibility"


def test_feedback_needs_a_token_whose_audience_is_the_feedback_url(secured) -> None:
    client = secured()
    item = {
        "card": str(uuid.uuid4()),
        "outcome": "overridden",
        "outcomeTimestamp": "2026-03-02T10:05:31Z",
    }
    body = json.dumps({"feedback": [item]})
    assert_refused(call(client, None, FEEDBACK, body))
    assert_refused(call(client, token(), FEEDBACK, body))  # aud names the service, not feedback
    assert call(client, token(aud=BASE + FEEDBACK), FEEDBACK, body).status_code == 200


def test_discovery_needs_a_token_for_the_discovery_url(secured) -> None:
    client = secured()

    def discover(bearer: str | None) -> Any:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
        return client.get("/cds-services", headers=headers)

    assert_refused(discover(None))
    assert_refused(discover(token()))  # aud names a service, not discovery
    response = discover(token(aud=BASE + "/cds-services"))
    assert response.status_code == 200
    assert {s["hook"] for s in response.json["services"]} == {
        "patient-view",
        "order-select",
        "order-sign",
    }


def test_health_and_preflight_stay_open(secured) -> None:
    client = secured()
    assert client.get("/healthz").status_code == 200
    preflight = client.options(
        SERVICE,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(payload)}."


def hs256_with_public_key() -> str:
    """The algorithm-confusion attack: HMAC keyed with the issuer's published public key."""
    pem = EC_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT", "kid": "ec-1"}
    payload = {"iss": ISSUER, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": "x"}
    signing_input = unsigned(header, payload).rstrip(".")
    import hashlib
    import hmac

    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def tampered() -> str:
    header, _payload, signature = token().split(".")
    now = int(time.time())
    forged = {"iss": ISSUER, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": "forged"}
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


NOW_S = int(time.time())
REFUSALS = {
    "no-header": (None, "no bearer token"),
    "not-a-jwt": ("abc.def", "malformed token"),
    "alg-none": (
        unsigned(
            {"alg": "none", "typ": "JWT"},
            {"iss": ISSUER, "aud": BASE + SERVICE, "iat": NOW_S, "exp": NOW_S + 300, "jti": "n"},
        ),
        "algorithm 'none' is not accepted",
    ),
    "hs256-confusion": (hs256_with_public_key(), "algorithm 'HS256' is not accepted"),
    "es256-not-configured": (
        token(key=ec.generate_private_key(ec.SECP256R1()), alg="ES256"),
        "algorithm 'ES256' is not accepted",
    ),
    "unknown-kid": (token(kid="rotated-away"), "no key for this kid"),
    "wrong-key": (token(key=OTHER_EC_KEY), "token rejected (InvalidSignatureError)"),
    "tampered-payload": (tampered(), "token rejected (InvalidSignatureError)"),
    "expired": (
        token(iat=NOW_S - 900, exp=NOW_S - 300),
        "token rejected (ExpiredSignatureError)",
    ),
    "issued-in-the-future": (
        token(iat=NOW_S + 1800, exp=NOW_S + 2100),
        "token rejected (ImmatureSignatureError)",
    ),
    "exp-10-to-the-12": (token(exp=10**12), "the token lives longer than 3600 s"),
    "exp-2-to-the-63": (token(exp=2**63), "exp is out of range"),
    "exp-1e300": (token(exp=1e300), "exp is out of range"),
    "exp-nan": (token(exp=float("nan")), "exp is out of range"),
    "exp-401-digits": (token(exp=10**400), "exp is out of range"),
    "nbf-infinite": (token(nbf=float("inf")), "nbf is out of range"),
    "exp-a-year-ahead": (token(exp=NOW_S + 366 * 86400), "the token lives longer than 3600 s"),
    "exp-a-numeric-string": (token(exp=str(NOW_S + 300)), "exp is not a number"),
    "exp-true": (token(exp=True), "exp is not a number"),
    "iat-far-in-the-past": (token(iat=-(10**18)), "iat is out of range"),
    "iat-a-numeric-string": (token(iat=str(NOW_S)), "iat is not a number"),
    "iat-back-dated": (token(iat=NOW_S - 7200, exp=NOW_S + 60), "the token lives longer"),
    "nbf-a-string": (token(nbf="yesterday"), "nbf is not a number"),
    "nbf-negative": (token(nbf=-1), "nbf is out of range"),
    "untrusted-issuer": (token(iss="https://evil.example.com"), "issuer is not trusted"),
    "no-jti": (token(jti=None), "token rejected (MissingRequiredClaimError)"),
    "no-exp": (token(exp=None), "token rejected (MissingRequiredClaimError)"),
    "wrong-audience": (token(aud=BASE + "/cds-services"), "aud does not name this endpoint"),
    "other-host-audience": (
        token(aud="https://other.example.org" + SERVICE),
        "aud does not name this endpoint",
    ),
    "two-audiences": (
        token(aud=[BASE + SERVICE, "https://other.example.org"]),
        "aud does not name this endpoint",
    ),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_bad_tokens_get_401_and_the_reason_is_logged(secured, json_logs, case) -> None:
    bearer, reason = REFUSALS[case]
    response = call(secured(), bearer)
    assert_refused(response)
    [logged] = refusal_reasons(json_logs)
    assert logged.startswith(reason)
    log_text = json_logs.getvalue()
    if bearer:
        assert bearer not in log_text
        assert bearer.split(".")[0] not in log_text


def test_scheme_other_than_bearer_is_refused(secured) -> None:
    client = secured()
    response = client.post(
        SERVICE,
        data=BODY,
        content_type="application/json",
        headers={"Authorization": "Basic dXNlcjpwYXNz"},
    )
    assert_refused(response)


@pytest.mark.both_databases
def test_a_replayed_token_is_refused(secured, json_logs) -> None:
    client = secured()
    bearer = token()
    assert call(client, bearer).status_code == 200
    assert_refused(call(client, bearer))
    assert refusal_reasons(json_logs) == ["jti was already used"]


@pytest.mark.both_databases
def test_replay_is_caught_by_another_worker_sharing_the_database(secured) -> None:
    bearer = token()
    assert call(secured(), bearer).status_code == 200
    assert_refused(call(secured(), bearer))


@pytest.mark.parametrize(
    "aud",
    [
        [BASE + SERVICE],
        BASE + SERVICE + "/",
        BASE + "//cds-services/ketamine-trd-patient-view",
    ],
)
def test_audience_spellings_real_clients_send_are_accepted(secured, aud) -> None:
    assert call(secured(), token(aud=aud)).status_code == 200


def test_clock_skew_within_leeway_and_extra_claims_are_tolerated(secured) -> None:
    now = int(time.time())
    bearer = token(iat=now + 30, exp=now + 330, sub="epic-client", nbf=now - 300)
    assert call(secured(), bearer).status_code == 200


def test_public_base_url_not_the_host_header_sets_the_audience(secured) -> None:
    client = secured(public_base_url="https://cds.example.org/")
    assert call(client, token(aud="http://localhost" + SERVICE)).status_code == 401
    assert call(client, token()).status_code == 200


def test_trusting_issuers_without_a_public_base_url_is_a_configuration_error(
    make_settings, jwks_file
) -> None:
    """Otherwise aud would be checked against the caller's own Host header."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="KETAMINE_CDS_PUBLIC_BASE_URL"):
        make_settings(
            auth_enabled=True, trusted_issuers=[{"iss": ISSUER, "jwks_file": str(jwks_file)}]
        )


def test_tenant_is_checked_when_the_issuer_lists_tenants(secured, jwks_file) -> None:
    client = secured(
        trusted_issuers=[{"iss": ISSUER, "jwks_file": str(jwks_file), "tenants": ["north-clinic"]}]
    )
    assert_refused(call(client, token()))
    assert_refused(call(client, token(tenant="south-clinic")))
    assert call(client, token(tenant="north-clinic")).status_code == 200


def test_keys_come_from_an_allowlisted_jku_and_rotate(secured, httpserver) -> None:
    jku = httpserver.url_for("/.well-known/jwks.json")
    httpserver.expect_request("/.well-known/jwks.json").respond_with_json(JWKS)
    client = secured(trusted_issuers=[{"iss": ISSUER, "jku": [jku]}], jwks_refresh_interval_s=0)
    assert call(client, token(jku=jku)).status_code == 200

    rotated = ec.generate_private_key(ec.SECP384R1())
    httpserver.clear()
    httpserver.expect_request("/.well-known/jwks.json").respond_with_json(
        {"keys": [public_jwk(rotated, "ec-2", "ES384")]}
    )
    assert call(client, token(key=rotated, kid="ec-2", jku=jku)).status_code == 200


def test_unknown_kid_refetches_at_most_once_per_interval(secured, httpserver) -> None:
    jku = httpserver.url_for("/jwks.json")
    httpserver.expect_request("/jwks.json").respond_with_json(JWKS)
    client = secured(trusted_issuers=[{"iss": ISSUER, "jku": [jku]}], jwks_refresh_interval_s=600)
    assert call(client, token(jku=jku)).status_code == 200
    for _ in range(5):
        assert_refused(call(client, token(kid="unknown", jku=jku)))
    assert len(httpserver.log) == 1


def test_unreachable_or_oversized_jwks_refuses_without_a_500(secured, httpserver) -> None:
    jku = httpserver.url_for("/big.json")
    httpserver.expect_request("/big.json").respond_with_data("x" * (1024 * 1024 + 10))
    client = secured(trusted_issuers=[{"iss": ISSUER, "jku": [jku, "http://127.0.0.1:9/jwks"]}])
    assert_refused(call(client, token(jku=jku)))
    assert_refused(call(client, token(jku="http://127.0.0.1:9/jwks")))


def test_a_dripping_jwks_is_cut_off_at_the_fetch_timeout(secured, httpserver) -> None:
    """The timeout bounds each socket read; a server sending a byte before each one runs out
    must not hold the worker for the whole document."""
    done = threading.Event()

    def drip(request: Request) -> Response:
        def body():
            try:
                for _ in range(30):
                    time.sleep(0.1)
                    yield b" "
                yield json.dumps(JWKS).encode()
            finally:
                done.set()

        return Response(body(), content_type="application/json")

    jku = httpserver.url_for("/slow-jwks.json")
    httpserver.expect_request("/slow-jwks.json").respond_with_handler(drip)
    client = secured(trusted_issuers=[{"iss": ISSUER, "jku": [jku]}], jwks_fetch_timeout_s=0.3)
    started = time.monotonic()
    assert_refused(call(client, token(jku=jku)))
    assert time.monotonic() - started < 1.5  # the drip lasts 3 s
    assert done.wait(10), "the dripping handler must end before the shared server is reused"


def test_jwks_redirects_are_not_followed(secured, httpserver) -> None:
    jku = httpserver.url_for("/jwks.json")
    httpserver.expect_request("/jwks.json").respond_with_data(
        "", status=302, headers={"Location": "https://attacker.example.com/jwks.json"}
    )
    assert_refused(call(secured(trusted_issuers=[{"iss": ISSUER, "jku": [jku]}]), token(jku=jku)))


def test_symmetric_keys_in_a_jwks_are_ignored(secured, tmp_path) -> None:
    secret = base64.urlsafe_b64encode(b"s" * 48).rstrip(b"=").decode()
    path = tmp_path / "oct.json"
    path.write_text(json.dumps({"keys": [{"kty": "oct", "kid": "hs", "k": secret}]}))
    client = secured(
        trusted_issuers=[{"iss": ISSUER, "jwks_file": str(path)}], jwt_algorithms=["ES384"]
    )
    assert_refused(call(client, token(kid="hs")))


def test_sandbox_style_token_verifies_against_its_published_key_set(secured, tmp_path) -> None:
    """The Sandbox signs ES384 with a fixed kid and names its jku; no tenant, exp = iat + 300."""
    sandbox = "https://sandbox.cds-hooks.org"
    jku = sandbox + "/.well-known/jwks.json"
    path = tmp_path / "sandbox-jwks.json"
    path.write_text(json.dumps({"keys": [public_jwk(EC_KEY, "sandbox-kid", "ES384")]}))
    client = secured(trusted_issuers=[{"iss": sandbox, "jku": [jku], "jwks_file": str(path)}])
    bearer = token(iss=sandbox, kid="sandbox-kid", jku=jku)
    assert call(client, bearer).status_code == 200


def test_no_trusted_issuers_refuses_every_call_and_says_so_at_start(secured, json_logs) -> None:
    client = secured(trusted_issuers=[])
    assert_refused(call(client, token()))
    assert "no trusted issuers are configured" in json_logs.getvalue()


def test_disabled_authentication_is_announced(make_app, json_logs) -> None:
    client = make_app(auth_enabled=False).test_client()
    assert call(client, None).status_code == 200
    assert "AUTHENTICATION IS OFF" in json_logs.getvalue()


def test_configuration_refuses_symmetric_algorithms_and_keyless_issuers(make_settings) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="HS256"):
        make_settings(jwt_algorithms=["ES384", "HS256"])
    with pytest.raises(ValidationError, match="needs a jku URL or a jwks_file"):
        make_settings(trusted_issuers=[{"iss": ISSUER}])


def test_the_audit_trail_names_the_verified_issuer_and_the_refusals(secured) -> None:
    from sqlalchemy import select

    from cds_service.storage.models import AuditRecord

    client = secured()
    assert_refused(call(client, token(iss="https://evil.example.com")))
    assert call(client, token()).status_code == 200
    with client.application.extensions["ketamine_cds"].db.session() as session:
        audited = [(r.status, r.issuer) for r in session.scalars(select(AuditRecord))]
    assert audited == [(401, None), (200, ISSUER)]


def junk_signed(header: dict[str, Any]) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": "j"}
    return unsigned({"typ": "JWT", **header}, payload) + "c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES384", "kid": "rsa-1"},
        {"alg": "RS384", "kid": "ec-1"},
    ],
)
def test_a_key_of_the_wrong_type_for_the_alg_is_401_not_500(secured, json_logs, header) -> None:
    assert_refused(call(secured(), junk_signed(header)))
    assert refusal_reasons(json_logs) == [f"the key for this kid does not fit {header['alg']}"]


def test_a_key_on_the_wrong_curve_or_declaring_another_alg_is_refused(secured, tmp_path) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1())
    declared = public_jwk(p256, "p256", "ES256")
    undeclared = {k: v for k, v in public_jwk(p256, "p256-no-alg", "ES256").items() if k != "alg"}
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps({"keys": [declared, undeclared]}))
    client = secured(
        trusted_issuers=[{"iss": ISSUER, "jwks_file": str(path)}], jwt_algorithms=["ES384", "ES256"]
    )
    assert_refused(call(client, junk_signed({"alg": "ES384", "kid": "p256"})))
    assert_refused(call(client, junk_signed({"alg": "ES384", "kid": "p256-no-alg"})))
    assert call(client, token(key=p256, alg="ES256", kid="p256")).status_code == 200


def test_jku_spellings_share_one_fetch_and_failures_are_not_refetched(secured, httpserver) -> None:
    good = httpserver.url_for("/keys/jwks.json")
    bad = httpserver.url_for("/broken/jwks.json")
    httpserver.expect_request("/keys/jwks.json").respond_with_json(JWKS)
    httpserver.expect_request("/broken/jwks.json").respond_with_data("", status=503)
    client = secured(
        trusted_issuers=[{"iss": ISSUER, "jku": [good, bad]}], jwks_refresh_interval_s=600
    )
    base, path = good.split("/keys/")
    for spelling in (good, good + "/", f"{base}//keys/{path}", f"{base}/keys//{path}"):
        assert call(client, token(jku=spelling)).status_code == 200
    for _ in range(4):
        assert_refused(call(client, token(jku=bad)))
    fetched = [r.path for r, _ in httpserver.log]
    assert fetched == ["/keys/jwks.json", "/broken/jwks.json"]


def test_a_slow_jwks_fetch_does_not_block_another_issuers_calls(
    secured, httpserver, jwks_file
) -> None:
    import threading

    slow = httpserver.url_for("/slow/jwks.json")

    def respond_slowly(_request: Any) -> Any:
        from werkzeug import Response

        time.sleep(1.0)
        return Response(json.dumps(JWKS), content_type="application/json")

    httpserver.expect_request("/slow/jwks.json").respond_with_handler(respond_slowly)
    client = secured(
        trusted_issuers=[
            {"iss": "https://slow.example.org", "jku": [slow]},
            {"iss": ISSUER, "jwks_file": str(jwks_file)},
        ]
    )
    started = threading.Event()

    def slow_call() -> None:
        started.set()
        call(client, token(iss="https://slow.example.org", jku=slow))

    worker = threading.Thread(target=slow_call)
    worker.start()
    started.wait()
    time.sleep(0.1)
    begun = time.perf_counter()
    assert call(client, token()).status_code == 200
    elapsed = time.perf_counter() - begun
    worker.join()
    assert elapsed < 0.8


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("jti", "reason"),
    [
        ("x" * 256, "jti is longer than 255 characters"),
        ("nul\u0000", "jti holds a NUL character"),
        ("", "jti is empty"),
    ],
    ids=["too-long", "nul", "empty"],
)
def test_a_jti_the_database_cannot_hold_is_refused_not_a_500(
    secured, json_logs, jti, reason
) -> None:
    assert_refused(call(secured(), token(jti=jti)))
    assert refusal_reasons(json_logs) == [f"{reason}; the replay table cannot hold it"]


@pytest.mark.both_databases
def test_the_longest_lifetime_allowed_is_accepted_once(secured) -> None:
    now = int(time.time())
    bearer = token(iat=now, exp=now + 86400)
    client = secured(jwt_max_lifetime_s=86400)
    assert call(client, bearer).status_code == 200
    assert_refused(call(client, bearer))


def test_fractional_times_are_accepted(secured) -> None:
    """RFC 7519 NumericDate may be fractional."""
    now = time.time()
    bearer = token(iat=now - 0.25, nbf=now - 1.5, exp=now + 299.75)
    assert call(secured(), bearer).status_code == 200


def test_the_lifetime_limit_is_a_setting(secured, json_logs) -> None:
    now = int(time.time())
    client = secured(jwt_max_lifetime_s=300)
    assert call(client, token(iat=now, exp=now + 300)).status_code == 200
    assert_refused(call(client, token(iat=now, exp=now + 900)))
    assert refusal_reasons(json_logs) == ["the token lives longer than 300 s"]


def test_an_issuer_with_jku_urls_refuses_an_unlisted_jku_before_any_fetch(
    secured, json_logs
) -> None:
    client = secured(trusted_issuers=[{"iss": ISSUER, "jku": ["https://ehr.example.org/jwks"]}])
    assert_refused(call(client, token(jku="https://attacker.example.com/jwks.json")))
    assert refusal_reasons(json_logs) == ["jku is not on the issuer's allowlist"]


def test_an_issuer_with_a_jwks_file_ignores_an_unlisted_jku(secured) -> None:
    """Its keys are pinned: a jku selects nothing and is never fetched."""
    client = secured()
    assert (
        call(client, token(jku="https://ehr.example.org/.well-known/jwks.json")).status_code == 200
    )
    assert_refused(call(client, token(key=OTHER_EC_KEY, jku="https://attacker.example.com/k")))


def test_a_malformed_jwks_file_refuses_tokens_without_crashing(secured, tmp_path) -> None:
    path = tmp_path / "odd.json"
    path.write_text('{"keys": 5}')
    client = secured(trusted_issuers=[{"iss": ISSUER, "jwks_file": str(path)}])
    assert_refused(call(client, token()))


def test_a_rotated_jwks_file_is_picked_up_without_a_restart(secured, jwks_file) -> None:
    client = secured(jwks_refresh_interval_s=0)
    rotated = ec.generate_private_key(ec.SECP384R1())
    jwks_file.write_text(json.dumps({"keys": [public_jwk(rotated, "ec-2", "ES384")]}))
    assert call(client, token(key=rotated, kid="ec-2")).status_code == 200


def test_scheme_is_case_insensitive_and_typ_must_be_jwt(secured) -> None:
    client = secured()
    response = client.post(
        SERVICE,
        data=BODY,
        content_type="application/json",
        headers={"Authorization": f"bearer {token()}"},
    )
    assert response.status_code == 200
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": BASE + SERVICE, "iat": now, "exp": now + 300, "jti": "t"}
    wrong_typ = jwt.encode(
        claims, EC_KEY, algorithm="ES384", headers={"kid": "ec-1", "typ": "at+jwt"}
    )
    assert_refused(call(client, wrong_typ))


def test_the_text_log_format_keeps_a_refusal_reason(secured) -> None:
    import io
    import logging

    from cds_service.logs import formatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("text"))
    logger = logging.getLogger("cds_service")
    logger.addHandler(handler)
    try:
        bearer = token(aud=BASE + "/cds-services")
        assert_refused(call(secured(), bearer))
    finally:
        logger.removeHandler(handler)
    [line] = [line for line in stream.getvalue().splitlines() if "token refused" in line]
    assert line.endswith('token refused reason="aud does not name this endpoint"')
    assert bearer not in stream.getvalue()

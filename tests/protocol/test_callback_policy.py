"""fhirServer callbacks only to allowlisted https servers: no SSRF (README, Security)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service.protocol.callback_policy import callback_refusal
from tests.builders import hook_request
from tests.protocol.test_fhir_fallback import TOKEN, request_body, serve_patient

URL = "/cds-services/ketamine-trd-patient-view"


@pytest.mark.parametrize(
    ("server", "allowlist", "loopback", "refusal"),
    [
        ("https://fhir.example.org/r4", ["https://fhir.example.org/r4"], False, None),
        ("https://fhir.example.org/r4/tenant-a", ["https://fhir.example.org/r4"], False, None),
        ("https://fhir.example.org:8443/r4", ["https://fhir.example.org"], False, "allowlist"),
        ("https://fhir.example.org:443/r4", ["https://fhir.example.org"], False, None),
        ("https://fhir.example.org/r4", ["https://fhir.example.org:443"], False, None),
        ("https://fhir.example.org:8443/r4", ["https://fhir.example.org:*"], False, None),
        ("https://fhir.example.org:6379/r4", ["https://fhir.example.org/r4"], False, "allowlist"),
        ("https://FHIR.example.org/r4", ["https://fhir.example.org/"], False, None),
        ("https://fhir.example.org/r4", [], False, "not on this service's allowlist"),
        ("https://fhir.example.org.evil.com/r4", ["https://fhir.example.org"], False, "allowlist"),
        ("https://fhir.example.org/r44", ["https://fhir.example.org/r4"], False, "allowlist"),
        ("https://fhir.example.org:9/r4", ["https://fhir.example.org:443"], False, "allowlist"),
        ("https://169.254.169.254/latest", ["https://fhir.example.org"], False, "allowlist"),
        ("http://fhir.example.org/r4", ["http://fhir.example.org"], True, "must use https"),
        ("http://localhost:8081/fhir", ["http://localhost"], False, "must use https"),
        ("http://localhost:8081/fhir", ["http://localhost"], True, "allowlist"),
        ("http://localhost:8081/fhir", ["http://localhost:*"], True, None),
        ("http://127.0.0.1:8081/fhir", ["http://localhost"], True, "allowlist"),
        ("ftp://fhir.example.org/r4", ["ftp://fhir.example.org"], True, "must use https"),
        ("https://fhir.example.org/r4/../admin", ["https://fhir.example.org/r4"], False, "dot"),
        ("https://fhir.example.org/r4/%2E%2E/x", ["https://fhir.example.org/r4"], False, "dot"),
    ],
)
def test_policy(make_settings, server, allowlist, loopback, refusal) -> None:
    settings = make_settings(fhir_server_allowlist=allowlist, fhir_allow_http_loopback=loopback)
    reason = callback_refusal(server, None, settings)
    if refusal is None:
        assert reason is None
    else:
        assert reason is not None and refusal in reason


def test_an_issuer_adds_its_own_servers_for_its_calls_only(make_settings, tmp_path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    settings = make_settings(
        fhir_server_allowlist=[],
        trusted_issuers=[
            {"iss": "https://ehr-a.org", "jwks_file": str(jwks), "fhir_servers": ["https://a/fhir"]}
        ],
    )
    assert callback_refusal("https://a/fhir", "https://ehr-a.org", settings) is None
    assert callback_refusal("https://a/fhir", "https://ehr-b.org", settings) is not None
    assert callback_refusal("https://a/fhir", None, settings) is not None


def test_ssrf_attempt_makes_no_outbound_request_and_answers_412(
    make_app, httpserver, json_logs
) -> None:
    serve_patient(httpserver)
    client = make_app(fhir_server_allowlist=["https://fhir.example.org"]).test_client()
    response = client.post(URL, json=request_body(httpserver))
    assert response.status_code == 412
    text = " ".join(i["diagnostics"] for i in response.json["issue"])
    assert "fhirServer is not on this service's allowlist" in text
    assert httpserver.log == []
    assert TOKEN not in json_logs.getvalue()
    assert TOKEN not in response.get_data(as_text=True)


def test_full_prefetch_needs_no_callback_so_an_unlisted_server_is_fine(make_app) -> None:
    client = make_app(fhir_server_allowlist=[]).test_client()
    body = hook_request("patient-view", fhirServer="http://10.0.0.5/internal")
    response = client.post(URL, json=body)
    assert response.status_code == 200
    assert response.json["cards"][0]["source"]["topic"]["code"] == "ketamine-eligibility"


def test_the_callers_jwt_is_never_forwarded_to_its_fhir_server(
    make_app, httpserver, tmp_path
) -> None:
    """With authentication on, the issuer's own FHIR server is allowed and gets only its token."""
    key = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(key.public_key()))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k1"}]}))
    serve_patient(httpserver)
    app = make_app(
        auth_enabled=True,
        public_base_url="https://cds.example.org",
        fhir_server_allowlist=[],
        trusted_issuers=[
            {
                "iss": "https://ehr.example.org",
                "jwks_file": str(jwks),
                "fhir_servers": [httpserver.url_for("/fhir")],
            }
        ],
    )
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "https://ehr.example.org",
        "aud": "https://cds.example.org" + URL,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    bearer = jwt.encode(claims, key, algorithm="ES384", headers={"kid": "k1"})
    response = app.test_client().post(
        URL, json=request_body(httpserver), headers={"Authorization": f"Bearer {bearer}"}
    )
    assert response.status_code == 200
    assert httpserver.log
    assert {r.headers.get("Authorization") for r, _ in httpserver.log} == {f"Bearer {TOKEN}"}


@pytest.mark.parametrize("path", ["/fhir/../admin", "/fhir/%2e%2e/admin", "/fhir/./x"])
def test_dot_segments_in_fhir_server_are_refused(client, path) -> None:
    body = hook_request("patient-view", fhirServer=f"https://fhir.example.org{path}")
    response = client.post(URL, json=body)
    assert response.status_code == 400
    [issue] = response.json["issue"]
    assert issue["expression"] == ["fhirServer"]
    assert "'..' path segments" in issue["diagnostics"]


def test_a_dot_dot_patient_id_is_never_read_from_the_server(make_app, httpserver) -> None:
    serve_patient(httpserver)
    body = request_body(httpserver)
    body["context"]["patientId"] = ".."
    response = make_app().test_client().post(URL, json=body)
    assert response.status_code == 400
    assert httpserver.log == []


@pytest.mark.parametrize("resource_id", ["..", ".", "a/../../admin"])
def test_the_fhir_client_reads_only_under_its_base(httpserver, resource_id) -> None:
    from cds_service.protocol.fhir_client import FhirClient, FhirServerError

    client = FhirClient(
        httpserver.url_for("/fhir"),
        access_token=TOKEN,
        deadline=time.monotonic() + 1,
        connect_timeout=0.2,
        read_timeout=0.3,
        max_pages=1,
        max_response_bytes=1024,
    )
    try:
        with pytest.raises(FhirServerError, match="does not name a resource"):
            client.read("Patient", resource_id)
        assert httpserver.log == []
    finally:
        client.close()

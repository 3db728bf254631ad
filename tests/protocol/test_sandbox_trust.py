"""KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX: the Sandbox's tokens, checked with its shipped key set.

The Sandbox's private key is public, but it must not be in this project: a locally generated key
stands in for it, put where the shipped key set is read from (config.SANDBOX_JWKS), so the
tokens take the same path as the Sandbox's own.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from cds_service import config
from cds_service.protocol.auth import parse_jwks
from tests.builders import FIXTURES

KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
PORT = 8090
SERVICE = "/cds-services/ketamine-trd-patient-view"
BODY = (FIXTURES / "requests" / "sandbox-patient-view.json").read_text()
STAND_IN = ec.generate_private_key(ec.SECP384R1())


def sandbox_token(audience: str, key: Any = STAND_IN) -> str:
    """A token as the Sandbox signs it (peers: jwt-generator.js): ES384, its kid and jku."""
    now = int(time.time())
    claims = {
        "iss": "https://sandbox.cds-hooks.org",
        "aud": audience,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    headers = {"typ": "JWT", "kid": KID, "jku": JKU}
    return jwt.encode(claims, key, algorithm="ES384", headers=headers)


def test_the_shipped_key_set_is_the_sandboxs() -> None:
    keys = parse_jwks(config.SANDBOX_JWKS.read_text())
    assert list(keys) == [KID]
    public = keys[KID].jwk.key.public_numbers()
    as_jwk = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(keys[KID].jwk.key))
    assert (keys[KID].kty, keys[KID].crv, keys[KID].alg) == ("EC", "P-384", "ES384")
    assert as_jwk["x"] == "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB"
    assert as_jwk["y"] == "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy"
    assert public.curve.name == "secp384r1"


def test_no_private_key_is_shipped() -> None:
    for path in Path(config.SANDBOX_JWKS).parent.iterdir():
        for key in json.loads(path.read_text())["keys"]:
            assert "d" not in key, path


@pytest.fixture
def sandbox_client(make_app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    stand_in = json.loads(jwt.get_algorithm_by_name("ES384").to_jwk(STAND_IN.public_key()))
    jwks = tmp_path / "sandbox.jwks.json"
    jwks.write_text(json.dumps({"keys": [{**stand_in, "kid": KID, "alg": "ES384", "use": "sig"}]}))
    monkeypatch.setattr(config, "SANDBOX_JWKS", jwks)
    return make_app(
        auth_enabled=True, trust_cds_hooks_sandbox=True, bind=f"127.0.0.1:{PORT}"
    ).test_client()


def call(client: Any, token: str, path: str = SERVICE) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return client.post(path, data=BODY, content_type="application/json", headers=headers)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_sandbox_token_is_accepted_once_at_either_loopback_audience(sandbox_client, host) -> None:
    token = sandbox_token(f"http://{host}:{PORT}{SERVICE}")
    answer = call(sandbox_client, token)
    assert answer.status_code == 200, answer.json
    assert [c["source"]["topic"]["code"] for c in answer.json["cards"]] == ["ketamine-eligibility"]
    assert call(sandbox_client, token).status_code == 401  # replayed


def test_discovery_takes_a_sandbox_token(sandbox_client) -> None:
    token = sandbox_token(f"http://localhost:{PORT}/cds-services")
    response = sandbox_client.get("/cds-services", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert len(response.json["services"]) == 3


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(
            lambda: sandbox_token(
                f"http://127.0.0.1:{PORT}{SERVICE}", ec.generate_private_key(ec.SECP384R1())
            ),
            id="signed-by-another-key",
        ),
        pytest.param(
            lambda: sandbox_token(f"http://127.0.0.1:{PORT + 1}{SERVICE}"), id="another-port"
        ),
        pytest.param(lambda: sandbox_token(f"https://cds.example.org{SERVICE}"), id="other-host"),
    ],
)
def test_other_sandbox_like_tokens_are_refused(sandbox_client, token) -> None:
    assert call(sandbox_client, token()).status_code == 401


def test_the_sandbox_is_not_trusted_by_default(make_app) -> None:
    client = make_app(
        auth_enabled=True, public_base_url=f"http://127.0.0.1:{PORT}", trusted_issuers=[]
    ).test_client()
    assert call(client, sandbox_token(f"http://127.0.0.1:{PORT}{SERVICE}")).status_code == 401


def test_trusting_the_sandbox_is_logged_at_start(make_app, json_logs) -> None:
    make_app(auth_enabled=True, trust_cds_hooks_sandbox=True, bind=f"127.0.0.1:{PORT}")
    [warning] = [
        json.loads(line)["msg"]
        for line in json_logs.getvalue().splitlines()
        if "Sandbox is trusted" in line
    ]
    assert "private key is public" in warning
    assert f"http://localhost:{PORT}, http://127.0.0.1:{PORT}" in warning

"""Every fixture request, and malformed variants of it, leaves no PHI or token in logs or errors.

All loggers are captured (root included), formatted exactly as in production. PHI here means
what identifies the patient in the fixture: name parts, birth date, identifiers, telecom,
address, the patient id, and free-text notes.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cds_service.logs import JsonFormatter
from tests.builders import FIXTURES, SERVICE_FOR_HOOK

ACCESS_TOKEN = "fhir-access-token-Zq81xPw"
REQUESTS = sorted((FIXTURES / "requests").glob("**/*.json"))


@pytest.fixture
def all_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    service_logger = logging.getLogger("cds_service")
    service_level = service_logger.level
    service_logger.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)
    service_logger.setLevel(service_level)


def phi_strings(body: dict[str, Any]) -> set[str]:
    found: set[str] = {body["context"]["patientId"]}
    patient = (body.get("prefetch") or {}).get("patient") or {}
    for name in patient.get("name", []):
        found.update(name.get("given", []))
        found.update([name["family"]] if "family" in name else [])
    found.update([patient["birthDate"]] if "birthDate" in patient else [])
    found.update(i["value"] for i in patient.get("identifier", []) if "value" in i)
    found.update(t["value"] for t in patient.get("telecom", []) if "value" in t)
    for address in patient.get("address", []):
        found.update(address.get("line", []))
        found.update(address[k] for k in ("city", "postalCode") if k in address)
    for note in _walk(body, "note"):
        found.update(n["text"] for n in note if isinstance(n, dict) and "text" in n)
    return {s for s in found if isinstance(s, str) and len(s) >= 4}


def _walk(value: Any, key: str) -> Iterator[Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == key:
                yield v
            yield from _walk(v, key)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


def with_token(body: dict[str, Any]) -> dict[str, Any]:
    return {
        **body,
        "fhirServer": body.get("fhirServer", "http://localhost:9/fhir"),
        "fhirAuthorization": {
            "access_token": ACCESS_TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "ketamine-cds",
        },
    }


def variants(body: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """The request as sent, and shapes that take the error paths, each still carrying PHI."""
    family = next(iter(phi_strings(body) - {body["context"]["patientId"]}), "Rivera")
    sent = with_token(body)
    yield "as-sent", json.dumps(sent).encode()
    text = json.dumps(sent)
    yield "truncated-json", text[: len(text) // 2].encode()
    yield (
        "patient-id-wrong-type",
        json.dumps(
            {**sent, "context": {**sent["context"], "patientId": {"name": family}}}
        ).encode(),
    )
    yield (
        "user-id-is-free-text",
        json.dumps(
            {**sent, "context": {**sent["context"], "userId": f"Dr {family}, 1984-07-19"}}
        ).encode(),
    )
    yield "hook-instance-is-free-text", json.dumps({**sent, "hookInstance": family}).encode()
    yield (
        "prefetch-patient-is-a-string",
        json.dumps(
            {**sent, "prefetch": {**(sent.get("prefetch") or {}), "patient": family}}
        ).encode(),
    )
    yield (
        "prefetch-patient-missing",
        json.dumps(
            {
                **sent,
                "prefetch": {
                    k: v for k, v in (sent.get("prefetch") or {}).items() if k != "patient"
                },
            }
        ).encode(),
    )
    yield "not-utf8", text.encode("utf-16")


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_no_phi_or_token_in_logs_or_error_bodies(make_app, all_logs, path: Path) -> None:
    body = json.loads(path.read_text())
    secrets = phi_strings(body) | {ACCESS_TOKEN}
    client = make_app(fhir_budget_s=0.1).test_client()
    url = f"/cds-services/{SERVICE_FOR_HOOK[body['hook']]}"
    statuses = {}
    for name, data in variants(body):
        response = client.post(url, data=data, content_type="application/json")
        statuses[name] = response.status_code
        assert response.status_code < 500, name
        if response.status_code >= 400:
            text = response.get_data(as_text=True)
            leaked = [s for s in secrets if s in text]
            assert not leaked, f"{name} error body holds {leaked}"
    logs = all_logs.getvalue()
    leaked = [s for s in secrets if s in logs]
    assert not leaked, f"logs hold {leaked}"
    assert statuses["as-sent"] == 200
    assert statuses["truncated-json"] == 400
    assert statuses["patient-id-wrong-type"] == 400
    assert logs.count('"msg":"request"') == len(statuses)


def test_an_unexpected_exception_with_phi_in_its_message_stays_out_of_logs(
    make_settings, all_logs
) -> None:
    from tests.test_app import exploding_app

    body = json.loads((FIXTURES / "requests" / "sandbox-patient-view.json").read_text())
    secrets = phi_strings(body)
    app = exploding_app(make_settings, KeyError(f"no data for {' '.join(sorted(secrets))}"))
    response = app.test_client().post("/cds-services/boom", json=with_token(body))
    assert response.status_code == 500
    logs = all_logs.getvalue()
    assert "unhandled error" in logs
    assert "KeyError (message withheld)" in logs
    for text in (logs, response.get_data(as_text=True)):
        assert not [s for s in secrets | {ACCESS_TOKEN} if s in text]


@pytest.mark.parametrize("hook", list(SERVICE_FOR_HOOK))
def test_authenticated_calls_and_refusals_leak_nothing(make_app, all_logs, tmp_path, hook) -> None:
    """The same sweep with JWT verification on: the audit path, 401s, and the bearer tokens."""
    from tests.protocol.test_auth import BASE, ISSUER, JWKS, token

    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(JWKS))
    app = make_app(
        auth_enabled=True,
        public_base_url=BASE,
        trusted_issuers=[{"iss": ISSUER, "jwks_file": str(jwks)}],
    )
    client = app.test_client()
    body = json.loads((FIXTURES / "requests" / f"sandbox-{hook}.json").read_text())
    path = f"/cds-services/{SERVICE_FOR_HOOK[hook]}"
    bearers = {
        "valid": token(aud=BASE + path),
        "wrong-aud": token(aud=BASE + "/elsewhere"),
        "expired": token(aud=BASE + path, iat=1, exp=2),
        "untrusted": token(aud=BASE + path, iss="https://evil.example.com"),
    }
    statuses = {
        name: client.post(
            path, json=with_token(body), headers={"Authorization": f"Bearer {bearer}"}
        ).status_code
        for name, bearer in bearers.items()
    }
    assert statuses == {"valid": 200, "wrong-aud": 401, "expired": 401, "untrusted": 401}
    logs = all_logs.getvalue()
    secrets = phi_strings(body) | {ACCESS_TOKEN} | set(bearers.values())
    secrets |= {b.split(".")[2] for b in bearers.values()}
    assert not [s for s in secrets if s in logs]

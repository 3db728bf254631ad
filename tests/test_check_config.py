"""``ketamine-cds check-config``: clear findings, exit 1 on any error."""

from __future__ import annotations

import json

import pytest

from cds_service.cli import main
from tests.protocol.test_auth import JWKS


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("KETAMINE_CDS_DATA_DIR", str(tmp_path / "data"))
    return monkeypatch


def check(capsys) -> tuple[int, list[str]]:
    code = main(["check-config"])
    return code, capsys.readouterr().out.splitlines()


def test_a_development_setup_passes_with_warnings(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    code, lines = check(capsys)
    assert code == 0
    assert "ok: settings are valid" in lines
    assert any(line.startswith("ok: 36 value sets and 77 ingredients load") for line in lines)
    assert "warning: authentication is off: for local development only" in lines
    assert any(line.startswith("ok: database sqlite:///") for line in lines)
    assert (
        "ok: cards link the patient handouts at http://127.0.0.1:8080/handouts/ "
        "(local development)" in lines
    )


def test_handout_links_to_a_bind_address_are_a_warning(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    env.setenv("KETAMINE_CDS_BIND", "10.0.0.5:8080")
    code, lines = check(capsys)
    assert code == 0
    assert any(
        line.startswith("warning: cards link the patient handouts at http://10.0.0.5:8080/")
        and "KETAMINE_CDS_PUBLIC_BASE_URL" in line
        for line in lines
    ), lines


def test_a_production_setup_with_a_trusted_issuer_is_clean(env, capsys, tmp_path) -> None:
    jwks = tmp_path / "ehr.json"
    jwks.write_text(json.dumps(JWKS))
    env.setenv("KETAMINE_CDS_PUBLIC_BASE_URL", "https://cds.example.org")
    env.setenv("KETAMINE_CDS_CORS_ORIGINS", "https://ehr.example.org")
    env.setenv(
        "KETAMINE_CDS_TRUSTED_ISSUERS",
        json.dumps([{"iss": "https://ehr.example.org", "jwks_file": str(jwks)}]),
    )
    code, lines = check(capsys)
    assert code == 0
    assert f"ok: issuer https://ehr.example.org: 2 usable keys in {jwks}" in lines
    assert not [line for line in lines if not line.startswith("ok: ")]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KETAMINE_CDS_JWT_ALGORITHMS", '["HS256"]', "error: KETAMINE_CDS_JWT_ALGORITHMS: "),
        (
            "KETAMINE_CDS_FHIR_BUDGET_S",
            "-1",
            "error: KETAMINE_CDS_FHIR_BUDGET_S: must be greater than 0 (got '-1')",
        ),
        ("KETAMINE_CDS_AUTH_ENABLED", "true", "error: no trusted issuers"),
        ("DATABASE_URL", "nosuchdb://x", "error: database nosuchdb://x: "),
    ],
)
def test_each_problem_is_named_and_exits_1(env, capsys, variable, value, expected) -> None:
    env.setenv(variable, value)
    code, lines = check(capsys)
    assert code == 1
    assert any(line.startswith(expected) for line in lines), lines


def test_a_broken_site_value_set_names_its_file(env, capsys, tmp_path) -> None:
    site = tmp_path / "site" / "valuesets"
    site.mkdir(parents=True)
    (site / "extra.json").write_text('{"id": "bipolar", "include": [{"codes": []}]}')
    (site / "broken.json").write_text("{oops")
    env.setenv("KETAMINE_CDS_KNOWLEDGE_EXTRA_DIR", str(site.parent))
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    code, lines = check(capsys)
    assert code == 1
    assert any(
        line.startswith(f"error: {site / 'broken.json'}: not readable JSON") for line in lines
    )
    assert (
        f"error: {site / 'extra.json'}: 'include' must be a list of objects, each with a 'system'"
        in lines
    )


def test_a_jwks_file_without_usable_keys_is_an_error(env, capsys, tmp_path) -> None:
    jwks = tmp_path / "oct.json"
    jwks.write_text('{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}')
    env.setenv("KETAMINE_CDS_PUBLIC_BASE_URL", "https://cds.example.org")
    env.setenv(
        "KETAMINE_CDS_TRUSTED_ISSUERS",
        json.dumps([{"iss": "https://ehr.example.org", "jwks_file": str(jwks)}]),
    )
    code, lines = check(capsys)
    assert code == 1
    assert f"error: issuer https://ehr.example.org: 0 usable keys in {jwks}" in lines


def test_binding_every_interface_warns_unless_a_proxy_buffers(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    env.setenv("KETAMINE_CDS_BIND", "0.0.0.0:8080")
    _, lines = check(capsys)
    assert any(line.startswith("warning: binding 0.0.0.0:8080, which other") for line in lines)
    env.setenv("KETAMINE_CDS_BEHIND_BUFFERING_PROXY", "true")
    _, lines = check(capsys)
    assert "ok: slow clients cannot hold workers (a proxy in front buffers whole requests)" in lines


def test_trusting_the_sandbox_is_flagged(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX", "true")
    env.setenv("KETAMINE_CDS_BIND", "127.0.0.1:9090")
    code, lines = check(capsys)
    assert code == 0
    assert (
        "warning: the CDS Hooks Sandbox is trusted: its private key is public, so anyone who can "
        "reach this service can sign as it; development only (audiences http://localhost:9090, "
        "http://127.0.0.1:9090)"
    ) in lines
    assert "ok: issuer https://sandbox.cds-hooks.org: 1 usable keys in " in "\n".join(lines)


def test_the_defaults_say_what_to_do_for_local_development(env, capsys) -> None:
    code, lines = check(capsys)
    assert code == 1
    [error] = [line for line in lines if line.startswith("error: no trusted issuers")]
    assert "`make run` serves with authentication off" in error
    assert "KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX=true make run" in error
    assert "list each EHR in KETAMINE_CDS_TRUSTED_ISSUERS" in error


def test_the_view_is_reported_with_what_it_still_needs(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    env.setenv(
        "KETAMINE_CDS_SMART_CLIENTS",
        '{"https://fhir.example.org/r4": {"client_id": "kcds"}, '
        '"https://other.example.org/fhir": {"client_id": "kcds"}}',
    )
    env.setenv("KETAMINE_CDS_FHIR_SERVER_ALLOWLIST", "https://fhir.example.org/r4")
    code, lines = check(capsys)
    assert code == 1
    assert (
        "ok: the TRD and course view can be launched from 2 FHIR server(s); register the "
        "redirect URI http://127.0.0.1:8080/app/callback" in lines
    )
    assert (
        "error: smart_clients: https://other.example.org/fhir is not on the FHIR callback "
        "allowlist or any issuer's fhir_servers, so every launch from it is refused" in lines
    )
    assert "warning: the view's session key is generated in the data directory" in lines
    assert any(line.startswith("warning: the view reads a whole chart") for line in lines)
    env.setenv("KETAMINE_CDS_THREADS", "4")
    env.setenv("KETAMINE_CDS_SMART_CLIENTS", '{"https://fhir.example.org/r4": {"client_id": "k"}}')
    code, lines = check(capsys)
    assert code == 0
    assert not any("whole chart" in line or "smart_clients" in line for line in lines)


def test_without_smart_clients_the_view_is_off(env, capsys) -> None:
    env.setenv("KETAMINE_CDS_AUTH_ENABLED", "false")
    _, lines = check(capsys)
    assert "ok: the TRD and course view is off: no KETAMINE_CDS_SMART_CLIENTS" in lines

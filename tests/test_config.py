"""Settings come from KETAMINE_CDS_* variables, DATABASE_URL, or a TOML file."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cds_service.config import Settings


def test_defaults_use_a_sqlite_file_in_the_data_dir(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.database_url == f"sqlite:///{tmp_path}/ketamine-cds.sqlite3"
    assert settings.cors_origins == ["*"]
    assert settings.fhir_budget_s < 0.5  # well under the spec's 500 ms target


def test_environment_variables_override_defaults(monkeypatch) -> None:
    monkeypatch.setenv("KETAMINE_CDS_CORS_ORIGINS", "https://ehr.example.org, https://b.example")
    monkeypatch.setenv("KETAMINE_CDS_FHIR_BUDGET_S", "1.5")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://cds@db/cds")
    settings = Settings()
    assert settings.cors_origins == ["https://ehr.example.org", "https://b.example"]
    assert settings.fhir_budget_s == 1.5
    assert settings.database_url == "postgresql+psycopg://cds@db/cds"


def test_prefixed_database_url_wins_over_the_generic_one(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite:///generic.db")
    monkeypatch.setenv("KETAMINE_CDS_DATABASE_URL", "sqlite:///specific.db")
    assert Settings().database_url == "sqlite:///specific.db"


def test_toml_file_is_read_and_env_takes_precedence(monkeypatch, tmp_path) -> None:
    config = tmp_path / "cds.toml"
    config.write_text('fhir_max_pages = 3\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(config))
    monkeypatch.setenv("KETAMINE_CDS_LOG_LEVEL", "WARNING")
    settings = Settings()
    assert (settings.fhir_max_pages, settings.log_level) == (3, "WARNING")


def test_missing_config_file_is_a_clear_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ValueError, match="does not name a readable file"):
        Settings()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KETAMINE_CDS_FHIR_BUDGET_S", "0"),
        ("KETAMINE_CDS_MAX_BODY_BYTES", "-1"),
        ("KETAMINE_CDS_LOG_FORMAT", "xml"),
        ("KETAMINE_CDS_FHIR_MAX_PAGES", "many"),
    ],
)
def test_invalid_values_are_refused(monkeypatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()


@pytest.mark.parametrize("iss", ["", "https://ehr.example.org/" + "x" * 232])
def test_an_issuer_the_audit_table_cannot_hold_is_refused_at_start(tmp_path, iss: str) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": []}')
    base = "https://cds.example.org"
    with pytest.raises(ValidationError, match=r"trusted_issuers\.0\.iss"):
        Settings(public_base_url=base, trusted_issuers=[{"iss": iss, "jwks_file": str(jwks)}])
    fits = {"iss": iss[:255] or "x", "jwks_file": str(jwks)}
    assert Settings(public_base_url=base, trusted_issuers=[fits]).trusted_issuers[0].iss


def test_unknown_settings_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(fhir_budget=1)


def test_gunicorn_takes_bind_workers_and_threads_from_the_environment(monkeypatch) -> None:
    import importlib

    from cds_service import gunicorn_conf

    monkeypatch.setenv("KETAMINE_CDS_BIND", "0.0.0.0:9000")
    monkeypatch.setenv("KETAMINE_CDS_WORKERS", "3")
    monkeypatch.setenv("KETAMINE_CDS_THREADS", "4")
    reloaded = importlib.reload(gunicorn_conf)
    assert (reloaded.bind, reloaded.workers, reloaded.threads) == ("0.0.0.0:9000", 3, 4)
    assert reloaded.preload_app is True
    monkeypatch.undo()
    importlib.reload(gunicorn_conf)


def test_clinical_thresholds_come_from_nested_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("KETAMINE_CDS_CLINICAL__BP_WINDOW_DAYS", "14")
    monkeypatch.setenv("KETAMINE_CDS_CLINICAL__AUGMENTATION_COUNTS_AS_TRIAL", "true")
    clinical = Settings().clinical
    assert (clinical.bp_window_days, clinical.augmentation_counts_as_trial) == (14, True)
    assert clinical.trial_min_days == 42


def test_clinical_thresholds_from_a_toml_table(monkeypatch, tmp_path) -> None:
    config = tmp_path / "cds.toml"
    config.write_text("[clinical]\ntrial_min_days = 56\n")
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(config))
    assert Settings().clinical.trial_min_days == 56


ISSUER = "https://ehr.example.org"


def issuer_with_jku(url: str, **settings: object) -> Settings:
    return Settings(
        public_base_url="https://cds.example.org",
        trusted_issuers=[{"iss": ISSUER, "jku": [url]}],
        **settings,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://keys.example.org/jwks.json",
        "http://127.0.0.1:9000/jwks.json",  # loopback, but without the development flag
        "ftp://keys.example.org/jwks.json",
        "keys.example.org/jwks.json",
        "https:///jwks.json",
    ],
)
def test_a_key_set_that_is_not_https_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        issuer_with_jku(url)
    message = str(refused.value)
    assert f"trusted issuer {ISSUER}: jku {url} must be an https URL" in message
    assert "KETAMINE_CDS_FHIR_ALLOW_HTTP_LOOPBACK" in message


@pytest.mark.parametrize(
    "url", ["http://localhost:9000/jwks.json", "http://127.0.0.1/jwks", "http://[::1]:9/jwks"]
)
def test_http_key_sets_on_this_machine_need_the_development_flag(url: str) -> None:
    settings = issuer_with_jku(url, fhir_allow_http_loopback=True)
    assert settings.trusted_issuers[0].jku == [url]


@pytest.mark.parametrize(
    "url",
    [
        "http://keys.example.org/jwks.json",
        "http://evil.example.org\\@localhost/jwks.json",  # urllib3 would connect to evil
        "http://user@localhost/jwks.json",
        "http://localhost.evil.example.org/jwks.json",
    ],
)
def test_the_development_flag_allows_nothing_but_loopback(url: str) -> None:
    with pytest.raises(ValidationError):
        issuer_with_jku(url, fhir_allow_http_loopback=True)


def test_https_key_sets_are_accepted_in_any_case() -> None:
    for url in ("https://keys.example.org/jwks.json", "HTTPS://keys.example.org/jwks.json"):
        assert issuer_with_jku(url).trusted_issuers[0].jku == [url]


def test_a_settings_error_does_not_print_the_values_given(monkeypatch) -> None:
    monkeypatch.setenv("KETAMINE_CDS_AUDIT_SALT", "SUPERSECRETSALT")
    monkeypatch.setenv("KETAMINE_CDS_PUBLIC_BASE_URL", "https://cds.example.org")
    monkeypatch.setenv(
        "KETAMINE_CDS_TRUSTED_ISSUERS", '[{"iss": "https://ehr", "jku": ["http://keys.example"]}]'
    )
    with pytest.raises(ValidationError) as refused:
        Settings()
    assert "must be an https URL" in str(refused.value)
    assert "SUPERSECRETSALT" not in str(refused.value)


@pytest.mark.parametrize(
    ("bind", "behind_proxy", "exposed"),
    [
        ("0.0.0.0:8080", False, True),
        ("10.0.0.5:8080", False, True),
        ("[::]:8080", False, True),
        ("cds.internal:8080", False, True),
        ("0.0.0.0:8080", True, False),
        ("127.0.0.1:8080", False, False),
        ("127.0.0.2:8080", False, False),
        ("localhost:8080", False, False),
        ("[::1]:8080", False, False),
    ],
)
def test_slow_clients_are_a_risk_only_off_loopback_without_a_buffering_proxy(
    bind: str, behind_proxy: bool, exposed: bool
) -> None:
    settings = Settings(bind=bind, behind_buffering_proxy=behind_proxy)
    warning = settings.slow_client_exposure()
    assert (warning is not None) == exposed
    if warning:
        assert warning.startswith(f"binding {bind}, which other hosts can reach")
        assert "proxy_request_buffering on" in warning
        assert "KETAMINE_CDS_BEHIND_BUFFERING_PROXY=true" in warning


def test_public_base_urls_are_a_comma_separated_list() -> None:
    settings = Settings(public_base_url=" http://localhost:8080/ , http://127.0.0.1:8080")
    assert settings.public_base_urls == ["http://localhost:8080", "http://127.0.0.1:8080"]
    assert settings.links_base_url() == "http://localhost:8080"
    with pytest.raises(ValidationError) as refused:
        Settings(public_base_url="https://a.example.org,cds.example.org")
    assert "'cds.example.org' is not an http or https base URL" in str(refused.value)


def test_trusting_the_sandbox_takes_both_loopback_audiences_from_the_bind_address() -> None:
    settings = Settings(trust_cds_hooks_sandbox=True, bind="127.0.0.1:9090")
    assert settings.public_base_urls == ["http://localhost:9090", "http://127.0.0.1:9090"]
    ipv6 = Settings(trust_cds_hooks_sandbox=True, bind="[::1]:9090")
    assert ipv6.public_base_urls[-1] == "http://[::1]:9090"
    [issuer] = settings.trusted_issuers
    assert issuer.iss == "https://sandbox.cds-hooks.org"
    assert issuer.jwks_file is not None and issuer.jwks_file.name == "cds-hooks-sandbox.jwks.json"
    assert issuer.jku == []  # no network: the key set is shipped


@pytest.mark.parametrize(
    "base", ["http://localhost:8080", "http://127.0.0.2:8080", "http://[::1]:8080"]
)
def test_the_sandbox_may_be_trusted_at_loopback_addresses(base: str) -> None:
    assert Settings(trust_cds_hooks_sandbox=True, public_base_url=base).public_base_urls == [base]


@pytest.mark.parametrize(
    "bases",
    [
        "https://cds.example.org",
        "http://localhost:8080,http://10.0.0.5:8080",
        "http://localhost.example.org:8080",
    ],
)
def test_the_sandbox_is_refused_where_other_hosts_can_call(bases: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(trust_cds_hooks_sandbox=True, public_base_url=bases)
    message = str(refused.value)
    assert "KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX" in message
    assert "private key is published" in message
    assert "configure the Sandbox issuer explicitly in KETAMINE_CDS_TRUSTED_ISSUERS" in message


@pytest.mark.parametrize(
    "settings",
    [
        {"bind": "0.0.0.0:8080"},
        {"bind": "192.168.1.5:8080"},
        {"bind": "0.0.0.0:8080", "public_base_url": "http://localhost:8080"},
        {"bind": "127.0.0.1:8080", "behind_buffering_proxy": True},
    ],
)
def test_the_sandbox_is_refused_when_the_service_listens_beyond_loopback(settings) -> None:
    """The audience is whatever the token says; only where the service listens keeps others out."""
    with pytest.raises(ValidationError) as refused:
        Settings(trust_cds_hooks_sandbox=True, **settings)
    assert f"the bind address {settings['bind']}" in str(refused.value)


def test_a_public_base_url_has_no_query_or_fragment() -> None:
    for bad in ("http://localhost:8080?x=1", "http://localhost:8080/#top"):
        with pytest.raises(ValidationError) as refused:
            Settings(public_base_url=bad)
        assert "no query or fragment" in str(refused.value)


def test_an_explicit_sandbox_issuer_is_kept() -> None:
    explicit = {"iss": "https://sandbox.cds-hooks.org", "jku": ["https://sandbox.cds-hooks.org/k"]}
    settings = Settings(
        trust_cds_hooks_sandbox=True,
        public_base_url="http://localhost:8080",
        trusted_issuers=[explicit],
    )
    assert [i.jku for i in settings.trusted_issuers] == [["https://sandbox.cds-hooks.org/k"]]

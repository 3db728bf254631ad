"""Settings errors name the environment variable or the TOML file and key, and what was given."""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.config import Settings
from cds_service.settings_errors import SETTINGS_ERRORS, describe


def problems() -> list[str]:
    with pytest.raises(SETTINGS_ERRORS) as refused:
        Settings()
    return describe(refused.value)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "KETAMINE_CDS_FHIR_BUDGET_S",
            "abc",
            "KETAMINE_CDS_FHIR_BUDGET_S: must be a number (got 'abc')",
        ),
        (
            "KETAMINE_CDS_FHIR_MAX_PAGES",
            "2.5",
            "KETAMINE_CDS_FHIR_MAX_PAGES: must be a whole number (got '2.5')",
        ),
        (
            "KETAMINE_CDS_AUTH_ENABLED",
            "maybe",
            "KETAMINE_CDS_AUTH_ENABLED: must be true or false (got 'maybe')",
        ),
        ("KETAMINE_CDS_BIND", "8080", "KETAMINE_CDS_BIND: must be host:port (got '8080')"),
        (
            "KETAMINE_CDS_JWT_LEEWAY_S",
            "900",
            "KETAMINE_CDS_JWT_LEEWAY_S: must be at most 600 (got '900')",
        ),
        (
            "KETAMINE_CDS_CLINICAL__BP_WINDOW_DAYS",
            "0",
            "KETAMINE_CDS_CLINICAL__BP_WINDOW_DAYS: must be at least 1 (got '0')",
        ),
        (
            "KETAMINE_CDS_TRUSTED_ISSUERS",
            '[{"iss": "https://ehr.example.org",',
            "KETAMINE_CDS_TRUSTED_ISSUERS: not valid JSON (Expecting property name enclosed in "
            "double quotes: line 1 column 36 (char 35))",
        ),
        (
            "KETAMINE_CDS_TRUSTED_ISSUERS",
            '[{"iss": "https://ehr.example.org"}]',
            "KETAMINE_CDS_TRUSTED_ISSUERS[0]: trusted issuer https://ehr.example.org needs a jku "
            "URL or a jwks_file",
        ),
    ],
)
def test_an_environment_variable_is_named(monkeypatch, variable, value, expected) -> None:
    monkeypatch.setenv(variable, value)
    assert problems() == [expected]


def test_a_toml_file_is_named_with_the_key(monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "cds.toml"
    config.write_text(
        'fhir_budget_s = "slow"\nno_such_setting = 1\n[clinical]\nbp_window_days = 0\n'
    )
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(config))
    assert sorted(problems()) == sorted(
        [
            f"{config}: fhir_budget_s: must be a number (got 'slow')",
            f"{config}: clinical.bp_window_days: must be at least 1 (got 0)",
            f"{config}: no_such_setting: is not a setting (got 1)",
        ]
    )


def test_a_broken_toml_file_is_named_with_the_line(monkeypatch, tmp_path: Path) -> None:
    config = tmp_path / "cds.toml"
    config.write_text("fhir_budget_s = 1.0\nlog_level =\n")
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(config))
    assert problems() == [f"{config}: not valid TOML: Invalid value (at line 2, column 12)"]


def test_a_secret_is_never_shown(monkeypatch) -> None:
    monkeypatch.setenv("KETAMINE_CDS_AUDIT_SALT", "SUPERSECRETSALT")
    monkeypatch.setenv("DATABASE_URL", "postgresql://cds:hunter2@db/cds")
    monkeypatch.setenv("KETAMINE_CDS_FHIR_BUDGET_S", "-1")
    assert problems() == ["KETAMINE_CDS_FHIR_BUDGET_S: must be greater than 0 (got '-1')"]


def test_an_aliased_field_is_named_by_its_variable_and_never_shown(
    monkeypatch, tmp_path: Path
) -> None:
    config = tmp_path / "cds.toml"
    config.write_text("database_url = 5\n")
    monkeypatch.setenv("KETAMINE_CDS_CONFIG_FILE", str(config))
    [problem] = problems()
    assert problem.startswith(f"{config}: database_url: ")
    assert "got" not in problem

"""The view's settings: a key for tokens at rest, https outside this machine, safe frame origins."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError

from cds_service.config import Settings

FHIR = "https://fhir.example.org/r4"
CLIENTS = {FHIR: {"client_id": "kcds"}}


def build(tmp_path: Any, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


def refusal(tmp_path: Any, **values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        build(tmp_path, **values)
    return str(caught.value)


def test_with_authentication_on_the_session_key_is_required(tmp_path: Any) -> None:
    message = refusal(tmp_path, smart_clients=CLIENTS, public_base_url="https://cds.example.org")
    assert "(KETAMINE_CDS_SMART_SESSION_KEY) is required" in message
    assert "Fernet.generate_key()" in message
    key = Fernet.generate_key().decode()
    settings = build(
        tmp_path,
        smart_clients=CLIENTS,
        public_base_url="https://cds.example.org",
        smart_session_key=key,
    )
    assert settings.smart_clients[FHIR].client_id == "kcds"


def test_a_key_that_is_not_a_fernet_key_is_refused_without_printing_it(tmp_path: Any) -> None:
    message = refusal(
        tmp_path, smart_clients=CLIENTS, auth_enabled=False, smart_session_key="hunter2-hunter2"
    )
    assert "is not a Fernet key" in message
    assert "hunter2" not in message


def test_under_make_run_a_key_is_generated_in_the_data_directory(make_app: Any) -> None:
    app = make_app(smart_clients=CLIENTS)
    data_dir = app.extensions["ketamine_cds"].settings.data_dir
    key = (data_dir / "smart-session-key").read_text()
    Fernet(key)  # a usable key
    assert oct((data_dir / "smart-session-key").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (
            {"public_base_url": "http://cds.example.org", "auth_enabled": False},
            "needs an https public base URL",
        ),
        (
            {"smart_clients": {"http://fhir.example.org": {"client_id": "k"}}},
            "must be an https URL",
        ),
        (
            {"smart_clients": {"ftp://fhir.example.org": {"client_id": "k"}}},
            "is not a FHIR base URL",
        ),
        ({"smart_clients": {FHIR: {"client_id": ""}}}, "client_id"),
        ({"smart_frame_ancestors": "https://ehr.example.org; script-src *"}, "is not an origin"),
        ({"smart_frame_ancestors": "*"}, "is not an origin"),
        ({"smart_frame_ancestors": '["https://ehr.example.org\\n"]'}, "is not an origin"),
    ],
)
def test_unsafe_view_settings_are_refused(
    tmp_path: Any, values: dict[str, Any], words: str
) -> None:
    merged = {"smart_clients": CLIENTS, "auth_enabled": False, **values}
    assert words in refusal(tmp_path, **merged)


def test_client_secrets_never_print(tmp_path: Any) -> None:
    settings = build(
        tmp_path,
        auth_enabled=False,
        smart_clients={FHIR: {"client_id": "kcds", "client_secret": "s3cret-value"}},
    )
    assert "s3cret-value" not in repr(settings)


def test_a_smart_server_off_the_allowlist_is_logged_at_start(make_app: Any, json_logs: Any) -> None:
    make_app(smart_clients={"https://other.example.org/fhir": {"client_id": "kcds"}})
    lines = [line for line in json_logs.getvalue().splitlines() if "SMART client" in line]
    assert len(lines) == 1
    assert '"fhir_server":"https://other.example.org/fhir"' in lines[0]
    assert '"level":"ERROR"' in lines[0]

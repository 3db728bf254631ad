"""The SMART EHR launch end to end against the fixture server's SMART mode; each way it fails."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer

from cds_service.smartapp.oauth import read_types
from tests.smartapp.conftest import (
    CANDIDATE,
    CLIENT_ID,
    Clock,
    FhirServer,
    authorize,
    callback_path,
    launch_path,
    sign_in,
)


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def page_text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def test_the_launch_redirects_with_pkce_and_read_only_patient_scopes(
    smart_app: Flask, fhir: FhirServer
) -> None:
    client = smart_app.test_client()
    response = client.get(launch_path(fhir.base))
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{fhir.base}/auth/authorize?")
    sent = query_of(location)
    assert sent["response_type"] == "code"
    assert sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == "http://127.0.0.1:8080/app/callback"
    assert sent["launch"] == CANDIDATE
    assert sent["aud"] == fhir.base
    assert sent["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sent["code_challenge"])
    assert len(sent["state"]) >= 40
    scopes = sent["scope"].split()
    assert scopes[0] == "launch"
    assert set(scopes[1:]) == {f"patient/{t}.rs" for t in read_types()}
    assert "Observation" in read_types() and "MedicationRequest" in read_types()
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("kcds-launch=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/app" in cookie
    assert "Max-Age=300" in cookie


def test_launch_callback_and_view_end_to_end(smart_app: Flask, fhir: FhirServer) -> None:
    client = smart_app.test_client()
    callback = sign_in(client, fhir.base)
    assert callback.status_code == 303
    assert re.fullmatch(r"/app\?view=[A-Za-z0-9_-]{22}", callback.headers["Location"])
    cookies = callback.headers.getlist("Set-Cookie")
    assert any(c.startswith("kcds-launch=;") for c in cookies)  # the pre-auth cookie is cleared
    session_cookie = next(c for c in cookies if c.startswith("kcds-view="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert fhir.double is not None and fhir.double.token_requests == 1

    view = client.get(callback.headers["Location"])
    assert view.status_code == 200, page_text(view)
    text = page_text(view)
    assert "TRD and course view: Jordan Lee, born " in text
    assert "TRD and course view" in text
    assert "<svg" in text and 'class="phq9"' in text
    assert fhir.double.bearer_requests >= 4  # every read carried the issued token

    hook = client.post(
        "/cds-services/ketamine-trd-patient-view",
        json={
            "hookInstance": "2f7c0d3e-1a5b-4c1e-9b8a-6f0e9d2c7b14",
            "hook": "patient-view",
            "fhirServer": fhir.base,
            "context": {"userId": "Practitioner/1", "patientId": CANDIDATE},
        },
    )
    summaries = [card["summary"] for card in hook.json["cards"]]
    assert summaries
    for summary in summaries:
        assert _escaped(summary) in text


def _escaped(text: str) -> str:
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


def test_the_view_needs_a_session(smart_app: Flask) -> None:
    response = smart_app.test_client().get("/app")
    assert response.status_code == 401
    assert "Your session has ended" in page_text(response)


def test_a_made_up_session_cookie_is_refused(smart_app: Flask, fhir: FhirServer) -> None:
    client = smart_app.test_client()
    client.set_cookie("kcds-view", "not-a-session", path="/app")
    response = client.get("/app")
    assert response.status_code == 401
    assert fhir.double is not None and fhir.double.bearer_requests == 0


def test_a_replayed_callback_is_refused_and_the_code_is_exchanged_once(
    smart_app: Flask, fhir: FhirServer
) -> None:
    client = smart_app.test_client()
    callback = callback_path(client, fhir.base)
    assert client.get(callback).status_code == 303
    replay = client.get(callback)
    assert replay.status_code == 400
    assert "This sign-in is not valid" in page_text(replay)
    assert fhir.double is not None and fhir.double.token_requests == 1


def test_a_forged_state_makes_no_token_request(smart_app: Flask, fhir: FhirServer) -> None:
    client = smart_app.test_client()
    callback = callback_path(client, fhir.base)
    forged = re.sub(r"state=[^&]+", "state=forged-state-value", callback)
    response = client.get(forged)
    assert response.status_code == 400
    assert "This sign-in is not valid" in page_text(response)
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_a_callback_in_another_browser_is_refused(smart_app: Flask, fhir: FhirServer) -> None:
    started = smart_app.test_client().get(launch_path(fhir.base))
    callback = authorize(started.headers["Location"])
    response = smart_app.test_client().get(callback)  # no pre-auth cookie
    assert response.status_code == 400
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_a_launch_expires(smart_app: Flask, fhir: FhirServer, clock: Clock) -> None:
    client = smart_app.test_client()
    callback = callback_path(client, fhir.base)
    clock.advance(seconds=301)
    assert client.get(callback).status_code == 400
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_a_session_expires_after_its_idle_time(
    smart_app: Flask, fhir: FhirServer, clock: Clock
) -> None:
    client = smart_app.test_client()
    view = sign_in(client, fhir.base).headers["Location"]
    clock.advance(minutes=29)
    assert client.get(view).status_code == 200  # use restarts the idle time
    clock.advance(minutes=29)
    assert client.get(view).status_code == 200
    clock.advance(minutes=31)
    expired = client.get(view)
    assert expired.status_code == 401
    assert "Your session has ended" in page_text(expired)
    assert smart_app.extensions["ketamine_cds_smart"].count() == (0, 0)


def test_a_session_ends_with_its_access_token(
    smart_app: Flask, fhir: FhirServer, clock: Clock
) -> None:
    client = smart_app.test_client()
    view = sign_in(client, fhir.base).headers["Location"]
    for _ in range(2):  # kept busy, but the token lives an hour
        clock.advance(minutes=25)
        assert client.get(view).status_code == 200
    clock.advance(minutes=25)
    assert client.get(view).status_code == 401


def test_an_authorization_error_is_shown_not_exchanged(smart_app: Flask, fhir: FhirServer) -> None:
    client = smart_app.test_client()
    client.get(launch_path(fhir.base))
    response = client.get("/app/callback?error=access_denied&state=x")
    assert response.status_code == 403
    assert "access_denied" in page_text(response)
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_a_code_the_server_refuses_is_a_token_error(smart_app: Flask, fhir: FhirServer) -> None:
    client = smart_app.test_client()
    callback = callback_path(client, fhir.base)
    tampered = re.sub(r"code=[^&]+", "code=not-the-code", callback)
    response = client.get(tampered)
    assert response.status_code == 502
    assert "did not give a usable token" in page_text(response)
    assert "invalid_grant" in page_text(response)
    assert fhir.double is not None and fhir.double.token_requests == 1


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/app/launch", 400, "not launched from an EHR"),
        ("/app/launch?iss=http://127.0.0.1:9/fhir&launch=x", 403, "not one the view may read"),
        ("/app/launch?iss=https://evil.example.org&launch=x", 403, "not one the view may read"),
    ],
)
def test_bad_launches(smart_app: Flask, path: str, status: int, words: str) -> None:
    response = smart_app.test_client().get(path)
    assert response.status_code == status
    assert words in page_text(response)
    assert response.mimetype == "text/html"


def test_a_registered_server_off_the_allowlist_is_refused(
    make_smart_app: Any, fhir: FhirServer
) -> None:
    app = make_smart_app(fhir.base, fhir_server_allowlist=["https://fhir.example.org"])
    response = app.test_client().get(launch_path(fhir.base))
    assert response.status_code == 403
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_a_server_without_smart_configuration_is_a_discovery_failure(
    make_smart_app: Any, httpserver: HTTPServer
) -> None:
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_data(
        "not here", status=404
    )
    response = make_smart_app(base).test_client().get(launch_path(base))
    assert response.status_code == 502
    assert "SMART configuration could not be read" in page_text(response)
    assert "HTTP 404" in page_text(response)


@pytest.mark.parametrize(
    ("configuration", "words"),
    [
        ({"token_endpoint": "http://127.0.0.1:1/token"}, "names no authorization_endpoint"),
        (
            {
                "authorization_endpoint": "http://auth.example.org/authorize",
                "token_endpoint": "https://auth.example.org/token",
            },
            "authorization_endpoint is refused: it is not an https URL",
        ),
        (
            {
                "authorization_endpoint": "https://auth.example.org/authorize",
                "token_endpoint": "https://auth.example.org/token",
                "code_challenge_methods_supported": ["plain"],
            },
            "does not support PKCE with S256",
        ),
    ],
)
def test_unusable_smart_configurations(
    make_smart_app: Any, httpserver: HTTPServer, configuration: dict[str, Any], words: str
) -> None:
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_json(
        configuration
    )
    response = make_smart_app(base).test_client().get(launch_path(base))
    assert response.status_code == 502
    assert words in page_text(response)


def test_v1_scopes_for_a_server_that_advertises_only_v1(
    make_smart_app: Any, httpserver: HTTPServer
) -> None:
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_json(
        {
            "authorization_endpoint": "https://auth.example.org/authorize",
            "token_endpoint": "https://auth.example.org/token",
            "capabilities": ["launch-ehr", "permission-v1"],
            "scopes_supported": ["launch", "patient/*.read"],
        }
    )
    response = make_smart_app(base).test_client().get(launch_path(base))
    scopes = query_of(response.headers["Location"])["scope"].split()
    assert set(scopes[1:]) == {f"patient/{t}.read" for t in read_types()}


def fake_authorization_server(httpserver: HTTPServer, token_answer: Any, status: int = 200) -> str:
    """Discovery and a token endpoint on ``httpserver``; authorize is never followed here."""
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_json(
        {
            "authorization_endpoint": httpserver.url_for("/authorize"),
            "token_endpoint": httpserver.url_for("/token"),
        }
    )
    body = token_answer if isinstance(token_answer, str) else json.dumps(token_answer)
    httpserver.expect_request("/token", method="POST").respond_with_data(
        body, status=status, content_type="application/json"
    )
    return base


def callback_from(client: Any, base: str) -> str:
    started = client.get(launch_path(base))
    state = query_of(started.headers["Location"])["state"]
    return f"/app/callback?code=a-code&state={state}"


@pytest.mark.parametrize(
    ("answer", "status", "kind", "words"),
    [
        ({"access_token": "t0k3n", "token_type": "Bearer"}, 200, 400, "No patient is in context"),
        ({"token_type": "Bearer", "patient": "p1"}, 200, 502, "has no access_token"),
        (
            {"access_token": "t0k3n", "token_type": "MAC", "patient": "p1"},
            200,
            502,
            "is not a bearer token",
        ),
        ("<html>gateway error</html>", 502, 502, "could not be used (HTTPError)"),
        ("[1, 2]", 200, 502, "its answer is malformed"),
        (
            {"access_token": "t0k3n", "token_type": "Bearer", "patient": "p1", "expires_in": "x"},
            200,
            502,
            "its answer is malformed",
        ),
        ({"error": "invalid_client"}, 401, 502, "refused the code (invalid_client)"),
    ],
)
def test_unusable_token_answers(
    make_smart_app: Any,
    httpserver: HTTPServer,
    answer: Any,
    status: int,
    kind: int,
    words: str,
) -> None:
    base = fake_authorization_server(httpserver, answer, status)
    client = make_smart_app(base).test_client()
    response = client.get(callback_from(client, base))
    assert response.status_code == kind
    assert words in page_text(response)
    assert "kcds-view=" not in " ".join(response.headers.getlist("Set-Cookie"))


def test_the_token_request_carries_the_pkce_verifier_of_its_challenge(
    make_smart_app: Any, httpserver: HTTPServer
) -> None:
    import base64
    import hashlib

    base = fake_authorization_server(
        httpserver, {"access_token": "t0k3n", "token_type": "bearer", "patient": "p1"}
    )
    client = make_smart_app(base).test_client()
    started = client.get(launch_path(base))
    sent = query_of(started.headers["Location"])
    response = client.get(f"/app/callback?code=a-code&state={sent['state']}")
    assert response.status_code == 303
    form = parse_qs(httpserver.log[-1][0].get_data(as_text=True))
    assert form["grant_type"] == ["authorization_code"]
    assert form["code"] == ["a-code"]
    assert form["client_id"] == [CLIENT_ID]
    assert form["redirect_uri"] == ["http://127.0.0.1:8080/app/callback"]
    verifier = form["code_verifier"][0]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == sent["code_challenge"]


def test_a_confidential_client_authenticates_with_its_secret(
    make_settings: Any, httpserver: HTTPServer, clock: Clock
) -> None:
    from cds_service.app import create_app

    base = fake_authorization_server(
        httpserver, {"access_token": "t0k3n", "token_type": "Bearer", "patient": "p1"}
    )
    settings = make_settings(smart_clients={base: {"client_id": "conf", "client_secret": "s3cret"}})
    client = create_app(settings, clock=clock).test_client()
    assert client.get(callback_from(client, base)).status_code == 303
    request = httpserver.log[-1][0]
    assert request.authorization is not None
    assert (request.authorization.username, request.authorization.password) == ("conf", "s3cret")


def test_the_view_is_disabled_without_smart_clients(client: Any) -> None:
    response = client.get("/app/launch?iss=https://fhir.example.org&launch=x")
    assert response.status_code == 404
    assert "not set up" in page_text(response)


def test_view_pages_may_be_framed_only_by_the_configured_ehrs(
    make_smart_app: Any, fhir: FhirServer
) -> None:
    app = make_smart_app(
        fhir.base, smart_frame_ancestors="https://ehr.example.org,https://*.ehr.example.net"
    )
    response = app.test_client().get("/app")
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://ehr.example.org https://*.ehr.example.net" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy
    assert "X-Frame-Options" not in response.headers
    assert app.test_client().get("/cds-services").headers["X-Frame-Options"] == "DENY"


def test_over_https_the_cookies_are_host_only_secure_and_partitioned(
    make_smart_app: Any, fhir: FhirServer
) -> None:
    app = make_smart_app(fhir.base, public_base_url="https://cds.example.org")
    client = app.test_client()
    started = client.get(launch_path(fhir.base), base_url="https://cds.example.org")
    assert query_of(started.headers["Location"])["redirect_uri"] == (
        "https://cds.example.org/app/callback"
    )
    launch_cookie = started.headers["Set-Cookie"]
    for attribute in ("__Host-kcds-launch=", "Secure", "HttpOnly", "SameSite=None", "Path=/"):
        assert attribute in launch_cookie
    assert "Partitioned" in launch_cookie
    callback = client.get(
        authorize(started.headers["Location"]), base_url="https://cds.example.org"
    )
    session_cookie = next(
        c for c in callback.headers.getlist("Set-Cookie") if c.startswith("__Host-kcds-view=")
    )
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/;"):
        assert attribute in session_cookie + ";"


def test_no_token_code_state_or_patient_reaches_the_logs(
    smart_app: Flask, fhir: FhirServer, json_logs: Any
) -> None:
    client = smart_app.test_client()
    callback = callback_path(client, fhir.base)
    view = client.get(callback).headers["Location"]
    assert client.get(view).status_code == 200
    client.get(callback)  # the replay is logged as refused
    logged = json_logs.getvalue()
    assert '"path":"/app/callback"' in logged
    assert fhir.double is not None
    secrets = [
        *fhir.double.tokens,
        query_of(callback)["code"],
        query_of(callback)["state"],
        query_of(view)["view"],
    ]
    for secret in [*secrets, CANDIDATE, fhir.base]:
        assert secret not in logged
    assert "Two failed" not in logged and "Jordan" not in logged


def test_tokens_are_encrypted_at_rest(smart_app: Flask, fhir: FhirServer) -> None:
    from sqlalchemy import select

    from cds_service.storage.models import SmartSession

    sign_in(smart_app.test_client(), fhir.base)
    db = smart_app.extensions["ketamine_cds"].db
    with db.session() as session:
        sealed = session.scalars(select(SmartSession.sealed)).one()
    assert fhir.double is not None
    token = next(iter(fhir.double.tokens))
    assert token not in sealed and CANDIDATE not in sealed and fhir.base not in sealed


def test_the_test_double_refuses_tokens_it_did_not_issue(fhir: FhirServer) -> None:
    answer = requests.get(
        f"{fhir.base}/Patient/{CANDIDATE}", headers={"Authorization": "Bearer made-up"}, timeout=5
    )
    assert answer.status_code == 401


def test_a_callback_without_a_code_is_refused_before_the_token_endpoint(
    smart_app: Flask, fhir: FhirServer
) -> None:
    client = smart_app.test_client()
    started = client.get(launch_path(fhir.base))
    state = query_of(started.headers["Location"])["state"]
    response = client.get(f"/app/callback?state={state}")
    assert response.status_code == 403
    assert "a callback without one instead of a code" in page_text(response)
    assert fhir.double is not None and fhir.double.token_requests == 0


def test_an_unexpected_error_is_a_plain_page_with_the_request_id(
    smart_app: Flask, fhir: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cds_service.smartapp import routes

    def broken(*_: Any) -> None:
        raise RuntimeError("secret detail from inside")

    client = smart_app.test_client()
    view = sign_in(client, fhir.base).headers["Location"]
    monkeypatch.setattr(routes, "read_chart", broken)
    response = client.get(view, headers={"X-Request-ID": "req-123"})
    assert response.status_code == 500
    text = page_text(response)
    assert "The view failed" in text and "req-123" in text
    assert "secret detail" not in text and "Traceback" not in text


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://user@auth.example.org/authorize",
        "http://auth.example.org\\@localhost/authorize",
        "javascript:alert(1)",
        "//auth.example.org/authorize",
    ],
)
def test_an_endpoint_a_browser_or_client_could_misread_is_refused(
    make_smart_app: Any, httpserver: HTTPServer, endpoint: str
) -> None:
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_json(
        {"authorization_endpoint": endpoint, "token_endpoint": "https://auth.example.org/token"}
    )
    response = make_smart_app(base).test_client().get(launch_path(base))
    assert response.status_code == 502
    assert "authorization_endpoint is refused" in page_text(response)
    assert "Location" not in response.headers


def test_a_later_launch_in_the_same_browser_does_not_take_over_an_open_view(
    smart_app: Flask, fhir: FhirServer
) -> None:
    client = smart_app.test_client()
    first = sign_in(client, fhir.base).headers["Location"]
    assert client.get(first).status_code == 200
    second = sign_in(client, fhir.base, "pat-contraindicated-cerebral-aneurysm").headers["Location"]
    assert client.get(second).status_code == 200
    reloaded = client.get(first)
    assert reloaded.status_code == 409
    assert "This view was replaced by a later one" in page_text(reloaded)
    assert "Jordan" not in page_text(reloaded)
    assert client.get("/app").status_code == 409  # no handle at all: not the latest view either
    assert client.get("/app?view=%C3%A9t%C3%A9").status_code == 409  # not ASCII: still a page


def test_a_callback_from_another_authorization_server_is_refused(
    make_smart_app: Any, httpserver: HTTPServer
) -> None:
    base = httpserver.url_for("/fhir").rstrip("/")
    httpserver.expect_request("/fhir/.well-known/smart-configuration").respond_with_json(
        {
            "issuer": "https://auth.example.org",
            "authorization_endpoint": "https://auth.example.org/authorize",
            "token_endpoint": httpserver.url_for("/token"),
            "authorization_response_iss_parameter_supported": True,
        }
    )
    client = make_smart_app(base).test_client()
    for iss in ("&iss=https%3A%2F%2Fevil.example.org", ""):
        response = client.get(callback_from(client, base) + iss)
        assert response.status_code == 400
        assert "came back from another server" in page_text(response)
    assert not [r for r, _ in httpserver.log if r.path == "/token"]


def test_a_token_answer_too_large_is_refused(make_smart_app: Any, httpserver: HTTPServer) -> None:
    base = fake_authorization_server(
        httpserver, {"access_token": "t" * 100_000, "token_type": "Bearer", "patient": "p1"}
    )
    client = make_smart_app(base).test_client()
    response = client.get(callback_from(client, base))
    assert response.status_code == 502
    assert "its answer was too large or too slow" in page_text(response)


@pytest.mark.parametrize(("expires_in", "lives"), [("3600", True), ("60", False)])
def test_a_numeric_string_expires_in_is_honoured(
    make_smart_app: Any, httpserver: HTTPServer, clock: Clock, expires_in: str, lives: bool
) -> None:
    base = fake_authorization_server(
        httpserver,
        {
            "access_token": "t0k3n",
            "token_type": "Bearer",
            "patient": "p1",
            "expires_in": expires_in,
        },
    )
    app = make_smart_app(base)
    client = app.test_client()
    assert client.get(callback_from(client, base)).status_code == 303
    clock.advance(minutes=5)
    session_id = client.get_cookie("kcds-view", path="/app").value
    assert (app.extensions["ketamine_cds_smart"].session(session_id) is not None) is lives


def test_a_session_ends_after_twelve_hours_however_busy(
    make_smart_app: Any, httpserver: HTTPServer, clock: Clock
) -> None:
    base = fake_authorization_server(
        httpserver, {"access_token": "t0k3n", "token_type": "Bearer", "patient": "p1"}
    )
    app = make_smart_app(base)
    client = app.test_client()
    assert client.get(callback_from(client, base)).status_code == 303
    session_id = client.get_cookie("kcds-view", path="/app").value
    store = app.extensions["ketamine_cds_smart"]
    for _ in range(24):
        clock.advance(minutes=29)
        assert store.session(session_id) is not None
    clock.advance(minutes=29)
    assert store.session(session_id) is None


def test_discovery_is_fetched_once_for_many_launches(
    make_smart_app: Any, httpserver: HTTPServer
) -> None:
    base = fake_authorization_server(httpserver, {})
    client = make_smart_app(base).test_client()
    for _ in range(5):
        assert client.get(launch_path(base)).status_code == 302
    fetched = [r for r, _ in httpserver.log if r.path.endswith("/smart-configuration")]
    assert len(fetched) == 1


def test_launches_beyond_the_cap_are_refused(
    smart_app: Flask, fhir: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = smart_app.extensions["ketamine_cds_smart"]
    monkeypatch.setattr(store, "_max_pending", 2)
    client = smart_app.test_client()
    assert [client.get(launch_path(fhir.base)).status_code for _ in range(3)] == [302, 302, 503]
    assert "Too many launches are in progress" in page_text(client.get(launch_path(fhir.base)))


@given(
    path=st.sampled_from(["/app/launch", "/app/callback", "/app"]),
    params=st.dictionaries(
        st.sampled_from(["iss", "launch", "state", "code", "error", "view", "other"]),
        st.text(max_size=40),
        max_size=5,
    ),
)
def test_no_query_string_makes_the_view_fail_unexpectedly(
    smart_app: Flask, fhir: FhirServer, path: str, params: dict[str, str]
) -> None:
    client = smart_app.test_client()
    response = client.get(path, query_string=params)
    assert response.status_code < 500 or response.status_code in (502, 503)
    assert response.mimetype == "text/html"
    assert "The view failed" not in page_text(response)


def test_a_token_the_fhir_server_no_longer_takes_is_a_chart_failure(
    smart_app: Flask, fhir: FhirServer
) -> None:
    client = smart_app.test_client()
    view = sign_in(client, fhir.base).headers["Location"]
    assert fhir.double is not None
    fhir.double.tokens.clear()  # revoked at the EHR
    response = client.get(view)
    assert response.status_code == 502
    text = page_text(response)
    assert "The chart could not be read" in text
    assert "fhirServer refused access (HTTP 401)" in text
    assert "Jordan" not in text


def test_an_unreachable_fhir_server_is_a_discovery_failure(make_smart_app: Any) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{probe.getsockname()[1]}"
    response = make_smart_app(base).test_client().get(launch_path(base))
    assert response.status_code == 502
    assert "could not be reached (ConnectionError)" in page_text(response)


def test_a_database_that_does_not_answer_is_a_503_page(
    smart_app: Flask, fhir: FhirServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    store = smart_app.extensions["ketamine_cds_smart"]

    def down(*_: Any) -> None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    monkeypatch.setattr(store, "begin_launch", down)
    response = smart_app.test_client().get(launch_path(fhir.base))
    assert response.status_code == 503
    text = page_text(response)
    assert "cannot reach its database" in text and "connection refused" not in text


def test_a_session_whose_registration_was_withdrawn_is_refused(
    make_smart_app: Any, fhir: FhirServer, make_settings: Any
) -> None:
    from dataclasses import replace

    app = make_smart_app(fhir.base)
    client = app.test_client()
    view = sign_in(client, fhir.base).headers["Location"]
    withdrawn = make_settings(smart_clients={"https://other.example.org": {"client_id": "k"}})
    app.extensions["ketamine_cds"] = replace(app.extensions["ketamine_cds"], settings=withdrawn)
    response = client.get(view)
    assert response.status_code == 403
    assert "not one the view may read" in page_text(response)
    assert fhir.double is not None and fhir.double.bearer_requests == 0

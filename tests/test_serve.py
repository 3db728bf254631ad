"""`ketamine-cds serve` (what `make run` calls) serves the service through gunicorn."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from benchmarks.server import Server, free_port
from tests.builders import FIXTURES

CLI = Path(sys.executable).with_name("ketamine-cds")


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "KETAMINE_CDS_DATA_DIR": str(tmp_path / "data"),
        "KETAMINE_CDS_WORKERS": "2",
        "KETAMINE_CDS_AUTH_ENABLED": "false",
    }
    command = [str(CLI), "serve", "--bind", f"127.0.0.1:{port}"]
    running = Server(
        "ketamine-cds serve", command, env, port, log_path=tmp_path / "server.log", workers=2
    )
    yield running.base, tmp_path
    running.stop()


def test_gunicorn_serves_discovery_hooks_and_feedback(server) -> None:
    base, tmp_path = server
    services = requests.get(f"{base}/cds-services", timeout=5).json()["services"]
    assert {s["id"] for s in services} == {
        "ketamine-trd-patient-view",
        "ketamine-order-select",
        "ketamine-order-sign",
    }
    for hook, service_id in [
        ("patient-view", "ketamine-trd-patient-view"),
        ("order-select", "ketamine-order-select"),
        ("order-sign", "ketamine-order-sign"),
    ]:
        body = json.loads((FIXTURES / "requests" / f"sandbox-{hook}.json").read_text())
        response = requests.post(f"{base}/cds-services/{service_id}", json=body, timeout=5)
        assert response.status_code == 200, response.text
        topics = [c["source"]["topic"]["code"] for c in response.json()["cards"]]
        assert topics == (["ketamine-eligibility"] if hook == "patient-view" else [])
    feedback = {
        "feedback": [
            {
                "card": "9f1e9c07-3b8f-4f5e-9c3c-0b8f6f5d2a11",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-03-02T10:06:00.000Z",
            }
        ]
    }
    for _ in range(4):  # lands on both workers; stored once
        stored = requests.post(
            f"{base}/cds-services/ketamine-order-sign/feedback", json=feedback, timeout=5
        ).json()["stored"]
    assert stored == 0
    assert (tmp_path / "data" / "ketamine-cds.sqlite3").is_file()
    bad = requests.post(f"{base}/cds-services/ketamine-order-sign", data="{", timeout=5)
    assert bad.status_code == 400
    assert bad.json()["resourceType"] == "OperationOutcome"


def test_cli_rejects_invalid_settings(tmp_path) -> None:
    env = {**os.environ, "KETAMINE_CDS_FHIR_BUDGET_S": "-1"}
    result = subprocess.run(
        [str(CLI), "init-db"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "KETAMINE_CDS_FHIR_BUDGET_S: must be greater than 0 (got '-1')" in result.stderr


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_serve_refuses_a_worker_count_below_one(value: str, capsys) -> None:
    from cds_service.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["serve", "--workers", value])
    assert exited.value.code == 2
    assert "must be a whole number of at least 1" in capsys.readouterr().err


def test_cli_init_db_creates_the_schema(tmp_path) -> None:
    env = {**os.environ, "KETAMINE_CDS_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(CLI), "init-db"], env=env, capture_output=True, text=True, check=True
    )
    assert "schema is ready" in result.stdout
    assert (tmp_path / "ketamine-cds.sqlite3").is_file()


def metric_total(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + "{", name + " "))
    )


def test_metrics_add_up_across_gunicorn_workers(server) -> None:
    base, _ = server
    body = json.loads((FIXTURES / "requests" / "sandbox-patient-view.json").read_text())
    for _ in range(6):
        response = requests.post(
            f"{base}/cds-services/ketamine-trd-patient-view", json=body, timeout=5
        )
        assert response.status_code == 200
    for _ in range(4):  # whichever worker answers, it reports every worker's counts
        text = requests.get(f"{base}/metrics", timeout=5).text
        assert metric_total(text, "ketamine_cds_requests_total") == 6
        assert metric_total(text, "ketamine_cds_cards_total") == 6
        assert metric_total(text, "ketamine_cds_request_seconds_count") == 6


def test_a_missing_metrics_directory_is_created_at_start(tmp_path) -> None:
    """It used to make /metrics answer 500 on every scrape."""
    port = free_port()
    metrics_dir = tmp_path / "not" / "there"
    env = {
        **os.environ,
        "KETAMINE_CDS_DATA_DIR": str(tmp_path / "data"),
        "KETAMINE_CDS_AUTH_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [str(CLI), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    running = Server("metrics-dir", command, env, port, log_path=tmp_path / "server.log")
    try:
        body = json.loads((FIXTURES / "requests" / "sandbox-patient-view.json").read_text())
        url = f"{running.base}/cds-services/ketamine-trd-patient-view"
        assert requests.post(url, json=body, timeout=5).status_code == 200
        response = requests.get(f"{running.base}/metrics", timeout=5)
        assert response.status_code == 200
        assert metric_total(response.text, "ketamine_cds_requests_total") == 1
        assert metrics_dir.is_dir()
    finally:
        running.stop()


def refused_start(
    tmp_path, settings: dict[str, str], port: int | None = None
) -> subprocess.CompletedProcess[str]:
    """``ketamine-cds serve`` with ``settings``, which must refuse to start (exit 2)."""
    result = subprocess.run(
        [str(CLI), "serve", "--bind", f"127.0.0.1:{port or free_port()}"],
        env={**os.environ, "KETAMINE_CDS_DATA_DIR": str(tmp_path / "data"), **settings},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    return result


def test_a_metrics_directory_that_cannot_be_used_stops_the_start(tmp_path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = refused_start(tmp_path, {"PROMETHEUS_MULTIPROC_DIR": str(taken)})
    [line] = [json.loads(line) for line in result.stderr.splitlines() if "cannot start" in line]
    assert line["level"] == "ERROR"
    expected = f"cannot start: PROMETHEUS_MULTIPROC_DIR={taken} is a file, not a directory"
    assert line["msg"] == expected


def test_serving_off_loopback_warns_about_slow_clients(monkeypatch, capsys, tmp_path) -> None:
    from cds_service import cli

    served: dict = {}
    monkeypatch.setenv("KETAMINE_CDS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    monkeypatch.setattr(cli, "run_gunicorn", lambda load, **options: served.update(options))
    bind = f"0.0.0.0:{free_port()}"
    assert cli.main(["serve", "--bind", bind]) == 0
    assert served["bind"] == bind
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    warnings = [line["msg"] for line in lines if line["level"] == "WARNING"]
    assert any(w.startswith(f"binding {bind}, which other hosts can reach") for w in warnings)
    assert any(line["msg"] == f"starting on http://{bind}/cds-services" for line in lines)
    monkeypatch.setenv("KETAMINE_CDS_BEHIND_BUFFERING_PROXY", "true")
    assert cli.main(["serve", "--bind", bind]) == 0
    assert "which other hosts can reach" not in capsys.readouterr().err


def test_serve_trusts_the_sandbox_at_the_port_it_binds(tmp_path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "KETAMINE_CDS_DATA_DIR": str(tmp_path / "data"),
        "KETAMINE_CDS_AUTH_ENABLED": "true",
        "KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX": "true",
    }
    command = [str(CLI), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    log_path = tmp_path / "server.log"
    running = Server("sandbox-trust", command, env, port, log_path=log_path)
    try:
        assert requests.get(f"{running.base}/cds-services", timeout=5).status_code == 401
        lines = [json.loads(line) for line in log_path.read_text().splitlines()]
        [warning] = [line["msg"] for line in lines if "Sandbox is trusted" in line["msg"]]
        assert f"audiences: http://localhost:{port}, http://127.0.0.1:{port}" in warning
    finally:
        running.stop()


def test_serve_refuses_to_trust_the_sandbox_at_a_public_url(tmp_path) -> None:
    settings = {
        "KETAMINE_CDS_TRUST_CDS_HOOKS_SANDBOX": "true",
        "KETAMINE_CDS_PUBLIC_BASE_URL": "https://cds.example.org",
    }
    result = refused_start(tmp_path, settings)
    assert "needs the service on loopback only" in result.stderr
    assert "https://cds.example.org is not" in result.stderr


def test_a_port_in_use_is_named_with_how_to_choose_another(tmp_path) -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        result = refused_start(tmp_path, {}, port=port)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    [error] = [line["msg"] for line in lines if line["level"] == "ERROR"]
    assert error.startswith(f"cannot listen on 127.0.0.1:{port}: Address already in use.")
    assert f"has port {port}" in error
    assert f"KETAMINE_CDS_BIND=127.0.0.1:{port + 1} make run" in error
    assert not [line for line in lines if line["msg"] == "service ready"]


def test_ready_is_said_once_gunicorn_listens(server) -> None:
    _, tmp_path = server
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
    messages = [line["msg"] for line in lines]
    ready = messages.index("service ready")
    assert messages.index("application loaded") < ready
    assert any(m.startswith("Listening at: http://127.0.0.1:") for m in messages[:ready])
    assert lines[ready]["listening"][0].startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:99999", "the port must be a number from 1 to 65535"),
        ("nosuchhost.invalid:8080", "nosuchhost.invalid is not a known address"),
    ],
)
def test_a_bind_address_that_cannot_work_is_named_without_blaming_another_program(
    bind: str, expected: str
) -> None:
    from cds_service.cli import port_taken

    reason = port_taken(bind)
    assert reason is not None and reason.startswith(f"cannot listen on {bind}: {expected}")
    assert "Another program" not in reason

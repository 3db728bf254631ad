"""``ketamine-cds fhir-server``: what the Sandbox and this service ask of a FHIR server."""

from __future__ import annotations

from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from cds_service.fhirserver import FhirStore, create_fhir_app
from cds_service.fixture_loader import ANCHOR

PATIENTS = Path(str(files("cds_service.fixtures") / "patients"))
TODAY = date(2026, 11, 28)
SHIFT = TODAY - ANCHOR
PID = "pat-candidate-two-failed-trials"


@pytest.fixture(scope="module")
def fhir():
    return create_fhir_app(FhirStore.from_directory(PATIENTS, TODAY)).test_client()


def ids(bundle: dict) -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] != "OperationOutcome"
    ]


def test_metadata_is_r4(fhir) -> None:
    body = fhir.get("/metadata").json
    assert (body["resourceType"], body["fhirVersion"]) == ("CapabilityStatement", "4.0.1")
    types = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Condition", "Observation", "MedicationRequest"} <= types


def test_bare_patient_search_lists_every_patient_with_given_names(fhir) -> None:
    bundle = fhir.get("/Patient?_count=500").json
    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(list(PATIENTS.glob("*.json")))
    assert all(e["resource"]["name"][0]["given"] for e in bundle["entry"])


def test_read_and_a_missing_id(fhir) -> None:
    assert fhir.get(f"/Patient/{PID}").json["id"] == PID
    missing = fhir.get("/Patient/nobody")
    assert missing.status_code == 404
    assert missing.json["resourceType"] == "OperationOutcome"


def test_dates_are_moved_to_today(fhir) -> None:
    original = date.fromisoformat("2026-02-20")  # the fixture's latest PHQ-9
    bundle = fhir.get(f"/Observation?patient={PID}&code=http://loinc.org|44261-6").json
    days = {e["resource"]["effectiveDateTime"][:10] for e in bundle["entry"]}
    assert (original + SHIFT).isoformat() in days


def test_the_services_prefetch_templates_are_answered(fhir) -> None:
    from cds_service.services import registry

    service = next(s for s in registry if s.hook == "patient-view")
    for key, template in service.prefetch.items():
        url = "/" + template.replace("{{context.patientId}}", PID)
        response = fhir.get(url)
        assert response.status_code == 200, key
        body = response.json
        if body["resourceType"] == "Bundle":
            refs = {
                (e["resource"].get("subject") or e["resource"].get("patient"))["reference"]
                for e in body.get("entry", [])
            }
            assert refs <= {f"Patient/{PID}"}, key
    conditions = fhir.get(f"/Condition?patient=Patient/{PID}").json
    assert conditions["total"] >= 1


def test_code_category_status_and_system_tokens(fhir) -> None:
    by_code = fhir.get(f"/Condition?patient={PID}&code=F33.1").json
    assert by_code["total"] >= 1
    assert fhir.get(f"/Condition?patient={PID}&code=http://example.org|F33.1").json["total"] == 0
    vitals = fhir.get(f"/Observation?patient={PID}&category=vital-signs").json
    assert vitals["total"] >= 1
    assert all(
        any(c["code"] == "vital-signs" for cat in e["resource"]["category"] for c in cat["coding"])
        for e in vitals["entry"]
    )
    active = fhir.get(f"/Condition?patient={PID}&status=active").json["total"]
    assert active >= 1
    assert fhir.get(f"/Condition?patient={PID}&status=no-such-status").json["total"] == 0


def test_date_prefixes(fhir) -> None:
    phq = f"/Observation?patient={PID}&code=http://loinc.org|44261-6"
    everything = fhir.get(phq).json["total"]
    cutoff = (date.fromisoformat("2026-01-01") + SHIFT).isoformat()
    after = fhir.get(f"{phq}&date=ge{cutoff}").json["total"]
    before = fhir.get(f"{phq}&date=lt{cutoff}").json["total"]
    assert after + before == everything
    assert after >= 1
    assert fhir.get(f"{phq}&date=gt{(TODAY + timedelta(days=1)).isoformat()}").json["total"] == 0


def test_paging_with_next_links_and_post_search(fhir) -> None:
    first = fhir.get("/Patient?_count=5").json
    assert len(first["entry"]) == 5
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = fhir.get(next_url.removeprefix("http://localhost")).json
    assert not set(ids(first)) & set(ids(second))
    posted = fhir.post("/Condition/_search", data={"patient": PID}).json
    assert posted["total"] == fhir.get(f"/Condition?patient={PID}").json["total"]


def test_bad_and_unknown_parameters(fhir) -> None:
    assert fhir.get("/Patient?_count=lots").status_code == 400
    bundle = fhir.get(f"/Condition?patient={PID}&_sort=date").json
    [outcome] = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "_sort" in outcome["resource"]["issue"][0]["diagnostics"]


def test_cors_allows_the_sandbox(fhir) -> None:
    response = fhir.get("/metadata", headers={"Origin": "https://sandbox.cds-hooks.org"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://sandbox.cds-hooks.org"


def test_an_empty_directory_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="no FHIR Bundles"):
        FhirStore.from_directory(tmp_path, TODAY)


def test_the_service_reads_a_patient_from_it_end_to_end(make_app) -> None:
    """With no prefetch, the service fetches everything from this server and gives the card."""
    import threading

    from werkzeug.serving import make_server

    from tests.builders import hook_request

    server = make_server(
        "127.0.0.1", 0, create_fhir_app(FhirStore.from_directory(PATIENTS, ANCHOR)), threaded=True
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        body = hook_request("patient-view", fhirServer=base, prefetch={})
        body["context"]["patientId"] = PID
        client = make_app(fhir_budget_s=5, fhir_read_timeout_s=2).test_client()
        response = client.post("/cds-services/ketamine-trd-patient-view", json=body)
    finally:
        server.shutdown()
    assert response.status_code == 200, response.json
    [card] = response.json["cards"]
    assert card["extension"]["org.ketamine-cds.assessment"]["decision"] == "candidate"
    assert card["summary"].startswith(
        "Ketamine or esketamine is a reasonable next step: TRD, 2 failed trials"
    )


def test_dates_compare_as_ranges_at_their_precision(fhir) -> None:
    phq = f"/Observation?patient={PID}&code=http://loinc.org|44261-6"
    latest = (date.fromisoformat("2026-02-20") + SHIFT).isoformat()  # a whole-day value

    def total(query: str) -> int:
        response = fhir.get(f"{phq}&{query}")
        assert response.status_code == 200, response.json
        return response.json["total"]

    assert total(f"date={latest}") == 1
    assert total(f"date=gt{latest}T06:00:00Z") == 1  # part of that day lies after 06:00
    assert total(f"date=lt{latest}T18:00:00Z") >= 1
    assert total(f"date={latest[:7]}") >= 1  # a month contains the day
    assert total(f"date=ge{latest[:4]}") >= 1
    assert total(f"date=sa{latest}") == 0
    assert total(f"date=eb{latest}") == total("") - 1


@pytest.mark.parametrize("query", ["status:not=final", "code:text=PHQ", "date=ge", "date=soon"])
def test_modifiers_and_bad_dates_are_refused_not_ignored(fhir, query) -> None:
    response = fhir.get(f"/Observation?patient={PID}&{query}")
    assert response.status_code == 400
    assert response.json["resourceType"] == "OperationOutcome"


def test_system_only_tokens_zero_count_and_full_url_references(fhir) -> None:
    everything = fhir.get(f"/Observation?patient={PID}").json["total"]
    loinc = fhir.get(f"/Observation?patient={PID}&code=http://loinc.org|").json["total"]
    assert loinc == everything
    counted = fhir.get("/Patient?_count=0").json
    assert counted["total"] >= 1
    assert "entry" not in counted
    assert all(link["relation"] != "next" for link in counted["link"])
    full = fhir.get(f"/Condition?patient=http://localhost:8081/Patient/{PID}").json["total"]
    assert full == fhir.get(f"/Condition?patient={PID}").json["total"] >= 1


def test_the_cli_takes_its_port_from_the_setting_and_names_a_taken_one(monkeypatch, capsys) -> None:
    import socket

    from cds_service import cli

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("KETAMINE_CDS_FHIR_SERVER_BIND", f"127.0.0.1:{port}")
        assert cli.main(["fhir-server"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"ketamine-cds fhir-server: cannot listen on 127.0.0.1:{port}")
    assert f"KETAMINE_CDS_FHIR_SERVER_BIND=127.0.0.1:{port + 1} make fhir-server" in error


def test_the_cli_refuses_a_bind_without_a_port(capsys) -> None:
    from cds_service import cli

    assert cli.main(["fhir-server", "--bind", "localhost"]) == 2
    assert "--bind must be host:port, not 'localhost'" in capsys.readouterr().err


@pytest.mark.parametrize("bind", ["0.0.0.0:8099", "10.0.0.5:8099", "fhir.example.org:8099"])
def test_smart_mode_binds_loopback_only(capsys, bind: str) -> None:
    from cds_service import cli

    assert cli.main(["fhir-server", "--smart", "--bind", bind]) == 2
    error = capsys.readouterr().err
    assert "--smart approves every sign-in, so it binds loopback only" in error
    assert repr(bind) in error


def test_smart_mode_says_it_is_a_test_double(monkeypatch, capsys) -> None:
    import socket

    from werkzeug import serving

    from cds_service import cli

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    served: list[Any] = []
    monkeypatch.setattr(serving, "run_simple", lambda *args, **kwargs: served.append(args))
    assert cli.main(["fhir-server", "--smart", "--bind", f"127.0.0.1:{port}"]) == 0
    error = capsys.readouterr().err
    assert "SMART mode is a TEST DOUBLE: it approves every authorization at once" in error
    assert served and served[0][0] == "127.0.0.1"
    app = served[0][2]
    configuration = app.test_client().get("/.well-known/smart-configuration").json
    assert configuration["code_challenge_methods_supported"] == ["S256"]

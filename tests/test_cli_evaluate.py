"""``ketamine-cds evaluate``: cards for a Bundle or a request file, without a server."""

from __future__ import annotations

import json

import pytest

from cds_service.cli import main
from tests.builders import FIXTURES

ANCHOR = ["--as-of", "2026-03-02"]
PATIENT = FIXTURES / "patients" / "candidate-two-failed-trials.json"
PREGNANT_ORDER = (
    FIXTURES / "requests" / "order-sign" / "order-sign-esketamine-pregnant-hard-stop.json"
)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_patient_bundle_reads_as_a_clinician_would(capsys) -> None:
    code, out, _ = run(capsys, str(PATIENT), *ANCHOR)
    assert code == 0
    first = out.splitlines()[0]
    assert first.startswith(
        "[INFO] Ketamine or esketamine is a reasonable next step: TRD, 2 failed trials"
    )
    assert "  decision: candidate" in out
    assert "sertraline 100 MG Oral Tablet" in out
    assert "  suggestion: Refer for TMS evaluation" in out


def test_text_output_has_no_markdown_and_aligns_the_trials_table(capsys) -> None:
    _, out, _ = run(capsys, str(PATIENT), *ANCHOR)
    detail = [line[4:] for line in out.splitlines() if line.startswith("  | ")]
    assert detail[0].startswith("Discuss the next step: esketamine or IV ketamine (off-label)")
    assert not any("**" in line or line.startswith("|") for line in detail)
    header = next(line for line in detail if line.startswith("Antidepressant"))
    rule = detail[detail.index(header) + 1]
    sertraline = next(line for line in detail if line.startswith("sertraline"))
    columns = [header.index(name) for name in ("Daily dose", "Dates", "Counted")]
    assert all(rule[c - 2 : c] == "  " and rule[c] == "-" for c in columns)
    assert [sertraline[c:].split("  ")[0] for c in columns] == [
        "100 mg",
        "5 Feb 2025 to 16 Apr 2025, 70 days",
        "Yes: adequate, no response",
    ]


def test_json_output_is_the_service_response(capsys) -> None:
    code, out, _ = run(capsys, str(PATIENT), "--format", "json", *ANCHOR)
    assert code == 0
    [card] = json.loads(out)["cards"]
    assert card["source"]["topic"]["code"] == "ketamine-eligibility"
    assert card["extension"]["org.ketamine-cds.assessment"]["decision"] == "candidate"


def test_the_day_of_judgement_matters(capsys) -> None:
    _, out, _ = run(capsys, str(PATIENT), "--as-of", "2027-03-02")
    assert "decision: candidate" not in out
    assert "no recent blood pressure" in out


def test_a_request_file_is_evaluated_as_sent(capsys) -> None:
    code, out, _ = run(capsys, str(PREGNANT_ORDER), *ANCHOR)
    assert code == 0
    assert out.startswith("[CRITICAL]")
    assert "decision: contraindicated" in out
    assert "  suggestion: Remove the draft Esketamine order" in out


def test_draft_orders_in_a_bundle_feed_the_order_hooks(capsys, tmp_path) -> None:
    request = json.loads(PREGNANT_ORDER.read_text())
    patient = request["prefetch"]["patient"]
    chart = [
        e["resource"]
        for key, value in request["prefetch"].items()
        if key != "patient"
        for e in value.get("entry", [])
    ]
    drafts = [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [patient, *chart, *drafts]],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    for hook in ("order-sign", "order-select"):
        code, out, _ = run(capsys, str(path), "--hook", hook, *ANCHOR)
        assert code == 0
        assert out.startswith("[CRITICAL]"), hook
        assert "decision: contraindicated" in out


@pytest.mark.parametrize(
    ("content", "argv", "message"),
    [
        (None, [], "cannot read"),
        ("{not json", [], "is not JSON"),
        ("[1, 2]", [], "holds a JSON list, not an object"),
        ('{"resourceType": "Patient", "id": "x"}', [], "expected a FHIR Bundle"),
        ('{"resourceType": "Bundle", "entry": []}', [], "one Patient with an id; it holds 0"),
    ],
)
def test_bad_input_exits_2_with_a_reason(capsys, tmp_path, content, argv, message) -> None:
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, str(path), *argv)
    assert (code, out) == (2, "")
    assert message in err


def test_an_order_hook_without_a_draft_order_says_what_is_missing(capsys) -> None:
    code, _, err = run(capsys, str(PATIENT), "--hook", "order-sign")
    assert code == 2
    assert "order-sign needs a draft order" in err


def test_a_request_for_another_hook_is_refused(capsys) -> None:
    code, _, err = run(capsys, str(PREGNANT_ORDER), "--hook", "patient-view")
    assert code == 2
    assert "is a order-sign request, not patient-view" in err


def test_a_request_the_service_refuses_exits_1_with_its_reasons(capsys, tmp_path) -> None:
    request = json.loads(PREGNANT_ORDER.read_text())
    del request["prefetch"]["patient"]
    path = tmp_path / "partial.json"
    path.write_text(json.dumps(request))
    code, out, _ = run(capsys, str(path), *ANCHOR)
    assert code == 1
    assert out.startswith("The service refused the request (412):")
    assert "patient" in out


def test_a_draft_without_an_id_is_still_selected(capsys, tmp_path) -> None:
    request = json.loads(PREGNANT_ORDER.read_text())
    draft = dict(request["context"]["draftOrders"]["entry"][0]["resource"])
    del draft["id"]
    chart = [
        e["resource"]
        for key, value in request["prefetch"].items()
        if key != "patient"
        for e in value.get("entry", [])
    ]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in [request["prefetch"]["patient"], *chart, draft]],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    code, out, _ = run(capsys, str(path), "--hook", "order-select", *ANCHOR)
    assert code == 0
    assert out.startswith("[CRITICAL]")


def test_invalid_settings_are_reported_not_raised(capsys, monkeypatch) -> None:
    monkeypatch.setenv("KETAMINE_CDS_FHIR_BUDGET_S", "-1")
    code, out, err = run(capsys, str(PATIENT), *ANCHOR)
    assert (code, out) == (2, "")
    assert "invalid settings" in err and "KETAMINE_CDS_FHIR_BUDGET_S" in err


def test_a_reader_that_stops_reading_gets_no_traceback() -> None:
    import subprocess
    import sys
    from pathlib import Path

    cli = Path(sys.executable).with_name("ketamine-cds")
    process = subprocess.Popen(
        [str(cli), "evaluate", str(PATIENT), *ANCHOR],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # as `| head` does once it has its lines
    with process.stderr:
        error = process.stderr.read().decode()
    assert process.wait(60) == 1
    assert "Traceback" not in error and "BrokenPipeError" not in error

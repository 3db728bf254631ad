"""``ketamine-cds evaluate``: the cards a hook would return for a FHIR Bundle, without a server.

The Bundle becomes the hook request an EHR would send (its resources as prefetch, its draft
MedicationRequests and ServiceRequests as ``draftOrders``), and the request goes through the
real application in process, so the answer is exactly what the service would say.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from cds_service.plaintext import markdown_to_text

__all__ = ["EvaluationError", "build_request", "evaluate", "load", "render_text"]

HOOKS = ("patient-view", "order-select", "order-sign")
DRAFT_TYPES = ("MedicationRequest", "ServiceRequest")
CLI_USER = "Practitioner/ketamine-cds-cli"


class EvaluationError(Exception):
    """The input cannot be turned into a hook request; the message says why."""


def _service_for(hook: str) -> Any:
    from cds_service.services import registry

    return next(s for s in registry if s.hook == hook)


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
    }
    if resources:  # FHIR JSON has no empty arrays
        bundle["entry"] = [{"resource": r} for r in resources]
    return bundle


def build_request(document: dict[str, Any], hook: str | None) -> dict[str, Any]:
    """A hook request from a Bundle, or the document itself when it already is one."""
    if "hook" in document and "context" in document:
        if hook and document["hook"] != hook:
            raise EvaluationError(f"the file is a {document['hook']} request, not {hook}")
        return document
    if document.get("resourceType") != "Bundle":
        raise EvaluationError("expected a FHIR Bundle or a CDS Hooks request")
    hook = hook or "patient-view"
    resources = [
        e["resource"]
        for e in document.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    patients = [r for r in resources if r.get("resourceType") == "Patient"]
    if len(patients) != 1 or not patients[0].get("id"):
        raise EvaluationError(
            f"the Bundle must hold one Patient with an id; it holds {len(patients)}"
        )
    pid = patients[0]["id"]

    def is_draft(r: dict[str, Any]) -> bool:
        return r.get("resourceType") in DRAFT_TYPES and r.get("status") == "draft"

    drafts = [
        r if r.get("id") else {**r, "id": f"draft-{n}"}
        for n, r in enumerate((r for r in resources if is_draft(r)), start=1)
    ]
    chart = [r for r in resources if not is_draft(r)]
    context: dict[str, Any] = {"userId": CLI_USER, "patientId": pid}
    if hook != "patient-view":
        if not drafts:
            raise EvaluationError(
                f"{hook} needs a draft order: a MedicationRequest or ServiceRequest with "
                "status 'draft' in the Bundle"
            )
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in drafts],
        }
        if hook == "order-select":
            context["selections"] = [f"{r['resourceType']}/{r['id']}" for r in drafts]

    from cds_service.protocol.prefetch import Template

    prefetch: dict[str, Any] = {}
    for key, text in _service_for(hook).prefetch.items():
        template = Template(text)
        matching = [r for r in chart if r.get("resourceType") == template.resource_type]
        prefetch[key] = patients[0] if template.is_read else _searchset(matching)
    return {
        "hookInstance": str(uuid.uuid4()),
        "hook": hook,
        "context": context,
        "prefetch": prefetch,
    }


def evaluate(request: dict[str, Any], as_of: date) -> tuple[int, dict[str, Any]]:
    """POST the request to the service in process, judged as of ``as_of``: (status, body)."""
    from cds_service.app import create_app
    from cds_service.config import Settings

    hook = request.get("hook")
    if hook not in HOOKS:
        raise EvaluationError(f"unknown hook {hook!r}; expected one of {', '.join(HOOKS)}")
    moment = datetime.combine(as_of, time(12), tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), database_url="sqlite://", auth_enabled=False, log_level="ERROR"
        )
        app = create_app(settings, clock=lambda: moment)
        response = app.test_client().post(
            f"/cds-services/{_service_for(str(hook)).id}", json=request
        )
        app.extensions["ketamine_cds"].db.dispose()
    return response.status_code, response.get_json()


def render_text(status: int, body: dict[str, Any]) -> str:
    """The answer as a clinician would read it: one block per card."""
    if status != 200:
        problems = [i.get("diagnostics", "") for i in body.get("issue", [])]
        return f"The service refused the request ({status}):\n" + "\n".join(
            f"- {p}" for p in problems
        )
    cards = body.get("cards", [])
    if not cards:
        return "No cards: nothing for this service to say about this patient and hook."
    blocks = []
    for card in cards:
        topic = card.get("source", {}).get("topic", {}).get("display", "")
        lines = [f"[{card['indicator'].upper()}] {card['summary']}"]
        lines.append(f"  from: {card['source']['label']}" + (f" ({topic})" if topic else ""))
        for value in (card.get("extension") or {}).values():
            if isinstance(value, dict) and "decision" in value:
                lines.append(f"  decision: {value['decision']}")
        if card.get("detail"):
            text = markdown_to_text(card["detail"])
            lines += [f"  | {line}" if line else "  |" for line in text.splitlines()]
        for suggestion in card.get("suggestions", []):
            lines.append(f"  suggestion: {suggestion['label']}")
        for link in card.get("links", []):
            lines.append(f"  link: {link['label']} <{link['url']}>")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def load(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluationError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise EvaluationError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise EvaluationError(f"{path} holds a JSON {type(document).__name__}, not an object")
    return document

"""Read the chart for a view session and assess it, exactly as the patient-view hook does.

The view sends itself the hook request an EHR would send for ``patient-view``, with the
session's FHIR server and token and no prefetch: the same prefetch templates, FHIR client
(timeouts, paging, allowlist), record and clinical engine then make the same cards. Only the
time budget differs, since a whole chart may take seconds to read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cds_service.clinical.assessment import Assessment, assess
from cds_service.config import Settings
from cds_service.errors import PrefetchUnavailable
from cds_service.protocol import prefetch
from cds_service.protocol.callback_policy import callback_refusal
from cds_service.protocol.discovery import ServiceRegistry
from cds_service.protocol.hookcall import HookCall
from cds_service.protocol.models import Card, HookRequest, PatientViewContext
from cds_service.record.values import parse_date
from cds_service.services.detail import day
from cds_service.services.records import record_for, terminology_for
from cds_service.smartapp.failures import LaunchFailure
from cds_service.smartapp.store import ViewSession

__all__ = ["ChartReading", "allowed_issuer", "read_chart", "unreadable_smart_servers"]

HOOK = "patient-view"
# The hook request needs a user; the launch names none, since the view asks for no openid scope.
VIEW_USER = "Practitioner/ketamine-cds-view"
# The hooks' 0.2 s suits an EHR's own network; a clinician waiting for a page can wait longer.
VIEW_CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class ChartReading:
    cards: list[Card]
    assessment: Assessment
    gaps: dict[str, list[str]]  # prefetch key: what went wrong reading it
    patient: str  # the name and birth date, so the reader can check the chart is the right one


def allowed_issuer(iss: str, settings: Settings) -> tuple[bool, str | None]:
    """May the view read ``iss``? The callback allowlist decides, as for ``fhirServer``: the
    global list, or a trusted issuer's own servers. Returns (allowed, that issuer)."""
    if callback_refusal(iss, None, settings) is None:
        return True, None
    for trusted in settings.trusted_issuers:
        if callback_refusal(iss, trusted.iss, settings) is None:
            return True, trusted.iss
    return False, None


def unreadable_smart_servers(settings: Settings) -> list[str]:
    """The SMART clients' FHIR servers that the allowlist would refuse."""
    return [url for url in settings.smart_clients if not allowed_issuer(url, settings)[0]]


def view_settings(settings: Settings) -> Settings:
    """The hooks' settings with the view's time budget: every read may take up to all of it."""
    budget = settings.smart_fhir_budget_s
    return settings.model_copy(
        update={
            "fhir_budget_s": budget,
            "fhir_read_timeout_s": budget,
            "fhir_connect_timeout_s": min(
                budget, max(settings.fhir_connect_timeout_s, VIEW_CONNECT_TIMEOUT_S)
            ),
        }
    )


def read_chart(
    session: ViewSession, settings: Settings, registry: ServiceRegistry, now: datetime
) -> ChartReading:
    service = next(s for s in registry if s.hook == HOOK)
    request = HookRequest.model_validate(
        {
            "hookInstance": str(uuid.uuid4()),
            "hook": HOOK,
            "fhirServer": session.iss,
            "fhirAuthorization": {
                "access_token": session.access_token,
                "token_type": "Bearer",
                "subject": VIEW_USER,
            },
            "context": {"userId": VIEW_USER, "patientId": session.patient},
        }
    )
    context = PatientViewContext.model_validate(request.context)
    allowed, issuer = allowed_issuer(session.iss, settings)
    if not allowed:
        raise LaunchFailure("unknown-iss")
    budgeted = view_settings(settings)
    try:
        data = prefetch.resolve(service, request, budgeted, issuer)
    except PrefetchUnavailable as exc:
        raise LaunchFailure("fhir", _unavailable(exc)) from None
    call = HookCall(service.id, request, context, data, settings, now.date(), now)
    cards = service.handler(call)
    assessment = assess(record_for(call), terminology_for(call), settings.clinical)
    gaps = {key: result.notes or ["not available"] for key, result in data.gaps().items()}
    patients = data.keys["patient"].resources if "patient" in data.keys else []
    return ChartReading(cards, assessment, gaps, patient_label(patients[0] if patients else {}))


def patient_label(patient: dict[str, Any]) -> str:
    """The name the chart uses, and the birth date: ``Jordan Lee, born 12 Apr 1980``."""
    names = [n for n in patient.get("name") or [] if isinstance(n, dict)]
    chosen = next((n for n in names if n.get("use") in ("official", "usual")), None)
    chosen = chosen or (names[0] if names else {})
    given = [g for g in chosen.get("given") or [] if isinstance(g, str)]
    family = chosen.get("family")
    family = family if isinstance(family, str) else ""
    text = chosen.get("text")
    text = text if isinstance(text, str) else ""
    name = (text or " ".join([*given, family]).strip() or "Name not recorded")[:120]
    born = parse_date(patient.get("birthDate"))
    return f"{name}, born {day(born)}" if born else f"{name}, birth date not recorded"


def _unavailable(exc: PrefetchUnavailable) -> str:
    keys = ", ".join(sorted(exc.failures))
    why = next(iter(exc.failures.values()), "")
    return f"it could not supply {keys} ({why})" if why else f"it could not supply {keys}"

"""Pieces every card shares: source with topic, the assessment extension, referral suggestions."""

from __future__ import annotations

from datetime import date
from typing import Any

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.findings import Reason
from cds_service.protocol.models import Action, Link, Source, Suggestion
from cds_service.services.codes import reason_concept, topic
from cds_service.services.content import evidence_links, referrals, texts

__all__ = [
    "SOURCE_LABEL",
    "capital",
    "extension",
    "handout",
    "links",
    "referral",
    "sentence_case",
    "source",
    "summary_fit",
]

SOURCE_LABEL = "Ketamine CDS: TRD and ketamine/esketamine decision support"
EXTENSION_KEY = "org.ketamine-cds.assessment"
SUMMARY_LIMIT = 139


def source(topic_code: str) -> Source:
    return Source(label=SOURCE_LABEL, topic=topic(topic_code))


def reason_json(reason: Reason) -> dict[str, Any]:
    out: dict[str, Any] = {"code": reason.code, "display": reason_concept(reason.code)["display"]}
    if reason.evidence:
        out["evidence"] = [e.as_json() for e in reason.evidence]
    return out


def extension(
    assessment: Assessment, reasons: list[Reason], *, trials: bool = False
) -> dict[str, Any]:
    """The assessment extension (docs/integration.md §3): decision, TRD status, this card's
    reasons (and trials)."""
    body: dict[str, Any] = {
        "decision": assessment.decision,
        "trd": assessment.trd.status,
        "reasons": [reason_json(r) for r in reasons],
    }
    if trials:
        body["trials"] = [t.as_json() for t in assessment.trd.trials]
    return {EXTENSION_KEY: body}


def referral(
    kind: str,
    patient_id: str,
    today: date,
    *,
    reasons: list[str] | None = None,
    recommended: bool | None = None,
    note: str | None = None,
) -> Suggestion:
    """A suggestion creating a draft FHIR R4 ServiceRequest referral."""
    spec = referrals()[kind]
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "draft",
        "intent": "proposal",
        "priority": spec.get("priority", "routine"),
        "code": spec["code"],
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": today.isoformat(),
    }
    if reasons:
        resource["reasonReference"] = [{"reference": r} for r in reasons]
    notes = [n for n in (spec.get("note"), note) if n]
    if notes:
        resource["note"] = [{"text": n} for n in notes]
    return Suggestion(
        label=spec["label"],
        isRecommended=recommended,
        actions=[Action(type="create", description=spec["label"], resource=resource)],
    )


MAX_LINKS = 3
VIEW_LAUNCH_PATH = "/app/launch"


def handout(drug: str, base_url: str) -> Link:
    """The patient handout for ``ketamine`` or ``esketamine``, served by this service."""
    return Link(
        label=texts()["links"]["handout"][drug],
        url=f"{base_url.rstrip('/')}/handouts/{drug}",
        type="absolute",
    )


def handouts_index(base_url: str) -> Link:
    """Both handouts, on one page: for a card whose third link is the view."""
    label = texts()["links"]["handouts"]
    return Link(label=label, url=f"{base_url.rstrip('/')}/handouts", type="absolute")


def view_link(base_url: str) -> Link:
    """The TRD and course view, a SMART app: the EHR adds ``iss`` and ``launch``. No
    ``appContext``: the launch context names the patient, and the link carries no PHI."""
    label = texts()["links"]["view"]
    return Link(label=label, url=f"{base_url.rstrip('/')}{VIEW_LAUNCH_PATH}", type="smart")


def links(*ids: str, handouts: tuple[Link, ...] = (), view: Link | None = None) -> list[Link]:
    """The card's links: the catalogue entries named (``cards/evidence.json``), then its
    handouts, then the view, at most three in all."""
    catalogue = evidence_links()
    chosen = (
        [Link(label=catalogue[i]["label"], url=catalogue[i]["url"], type="absolute") for i in ids]
        + list(handouts)
        + ([view] if view else [])
    )
    if len(chosen) > MAX_LINKS:
        raise ValueError(f"a card carries at most {MAX_LINKS} links, not {len(chosen)}")
    return chosen


def capital(text: str) -> str:
    """The first letter in capitals, the rest unchanged: "esketamine" -> "Esketamine"."""
    return text[:1].upper() + text[1:]


def sentence_case(text: str) -> str:
    """A display inside a sentence: "Pregnant" -> "pregnant"; "AVM ..." and "MDD ..." unchanged."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def summary_fit(text: str) -> str:
    """Keep a summary under 140 characters, cutting at a word when it must."""
    if len(text) <= SUMMARY_LIMIT:
        return text
    cut = text[: SUMMARY_LIMIT - 1].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"

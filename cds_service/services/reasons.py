"""How a reason reads on a card: its name, its evidence with dates, what to do, and its source.

The words are data (``cards/text.json`` "reasons"); the codes stay in the assessment extension.
"""

from __future__ import annotations

from collections.abc import Iterable

from cds_service.clinical.assessment import Assessment
from cds_service.clinical.findings import Reason
from cds_service.clinical.settings import ClinicalSettings
from cds_service.services.codes import reason_concept
from cds_service.services.content import texts
from cds_service.services.detail import reason_phrase

__all__ = ["display", "reason_action", "reason_line", "reason_source", "sources"]


def display(reason: Reason) -> str:
    return str(reason_concept(reason.code)["display"])


def _words(reason: Reason, settings: ClinicalSettings) -> dict[str, str]:
    if reason.code == "age-65-plus":
        return dict(texts()["olderAdult"][settings.starting_dose_jurisdiction])
    return dict(texts()["reasons"].get(reason.code, {}))


def reason_action(
    reason: Reason, assessment: Assessment, settings: ClinicalSettings, drug: str | None = None
) -> str:
    """What to do about the reason, with any note its evidence calls for. ``drug``: the drug
    ordered (``ketamine`` or ``esketamine``), or None when both are in question."""
    if reason.code == "postpartum" and assessment.reason("lactation"):
        return ""  # the lactation advice covers it
    notes = texts()["reasonNotes"]
    codes = sorted({e.code.split("|")[-1] for e in reason.evidence if e.code})
    words = _words(reason, settings)
    parts = [notes[c] for c in codes if c in notes] + [words.get("action", "")]
    if drug != "ketamine":  # the esketamine starting dose, unless IV ketamine is ordered
        parts.append(words.get("esketamine", ""))
    if reason.code == "pregnancy" and assessment.course is not None:
        parts.append(words["duringCourse"])
    return " ".join(p for p in parts if p)


def reason_source(reason: Reason, settings: ClinicalSettings) -> str:
    return _words(reason, settings).get("source", "")


def reason_line(
    reason: Reason,
    assessment: Assessment,
    settings: ClinicalSettings,
    *,
    action: bool = True,
    drug: str | None = None,
) -> str:
    """One reason as a line of the card: its name, its evidence with dates, what to do.

    Usage: ``reason_line(lactation, ...)  # "Breastfeeding: Lactating mother, recorded 31 Jan
    2026. Advise against breastfeeding during treatment."``
    """
    evidence = reason_phrase(reason)
    name = display(reason)
    if evidence.lower().startswith(name.lower()):  # "Pregnant, on 10 Feb 2026" says it already
        line = f"{evidence}."
    else:
        line = name + (f": {evidence}." if evidence else ".")
    todo = reason_action(reason, assessment, settings, drug) if action else ""
    return f"{line} {todo}" if todo else line


def sources(*groups: Iterable[str]) -> str:
    """Sources in order, each once, the sections of one document together:
    ``sources(["Spravato label §4", "Spravato label §5"], ["EU-PEARL 2022"])``
    gives "Spravato label §4, §5; EU-PEARL 2022"."""
    documents: dict[str, list[str]] = {}
    for group in groups:
        for source in group:
            for part in filter(None, (p.strip() for p in source.split(";"))):
                document, _, sections = part.partition(" §")
                listed = documents.setdefault(document, [])
                for section in filter(None, (x.strip(" §") for x in sections.split(","))):
                    if section not in listed:
                        listed.append(section)
    return "; ".join(
        document + (" " + ", ".join(f"§{x}" for x in listed) if listed else "")
        for document, listed in documents.items()
    )

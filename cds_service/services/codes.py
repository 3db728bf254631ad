"""The project's own code system (``cards/codesystem.json``): card topics and override reasons."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from cds_service.protocol.models import Coding, OverrideReason

__all__ = [
    "CODE_SYSTEM_URL",
    "code_system",
    "override_displays",
    "override_reasons",
    "reason_concept",
    "topic",
]

CODE_SYSTEM_URL = "https://ketamine-cds.org/fhir/CodeSystem/ketamine-cds"


@cache
def code_system() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (files("cds_service.cards") / "codesystem.json").read_text(encoding="utf-8")
    )
    if document.get("url") != CODE_SYSTEM_URL:
        raise ValueError(f"cards/codesystem.json must keep the url {CODE_SYSTEM_URL}")
    return document


def _concepts(kind: str) -> dict[str, dict[str, Any]]:
    return {
        c["code"]: c
        for c in code_system()["concept"]
        if {"code": "kind", "valueCode": kind} in c.get("property", [])
    }


def topic(code: str) -> Coding:
    """The ``source.topic`` Coding for a topic code.

    Usage: ``topic("suicide-risk").display  # "Suicide risk"``
    """
    concepts = _concepts("topic")
    if code not in concepts:
        raise KeyError(f"{code!r} is not a topic in cards/codesystem.json: {sorted(concepts)}")
    return Coding(system=CODE_SYSTEM_URL, code=code, display=concepts[code]["display"])


def override_reasons(topic_code: str) -> list[OverrideReason]:
    """The override reasons a card of this topic offers, in file order: each override-reason
    concept names its topics (``property`` ``topic``).

    Usage: ``[r.code for r in override_reasons("suicide-risk")][0]  # "record-inaccurate"``
    """
    topic(topic_code)  # an unknown topic is a programming error, not an empty list
    wanted = {"code": "topic", "valueCode": topic_code}
    return [
        OverrideReason(system=CODE_SYSTEM_URL, code=code, display=concept["display"])
        for code, concept in _concepts("override-reason").items()
        if wanted in concept.get("property", [])
    ]


def override_displays() -> dict[str, str]:
    """Every override reason's display by code, for reports that show what a code means."""
    return {code: c["display"] for code, c in _concepts("override-reason").items()}


def reason_concept(code: str) -> dict[str, Any]:
    """A reason's concept (code, display, definition) from the code system."""
    concepts = _concepts("reason")
    if code not in concepts:
        raise KeyError(f"{code!r} is not a reason in cards/codesystem.json")
    return concepts[code]

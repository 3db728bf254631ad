"""Card content from ``cards/`` (installed as ``cds_service.cards``): texts, links, templates.

FHIR text is untrusted: ``md()`` escapes it before it enters Markdown (README, Security).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FunctionLoader, StrictUndefined, Template

__all__ = ["evidence_links", "md", "referrals", "template", "texts"]

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")
_SPACE = re.compile(r"\s+")


def md(text: object, limit: int = 200) -> str:
    """FHIR text made safe for Markdown: one line, bounded, specials escaped.

    Usage: ``md("**x** <script>")  # "\\*\\*x\\*\\* \\<script\\>"``
    """
    flat = _SPACE.sub(" ", str(text)).strip()
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", flat)


def _read(name: str) -> str:
    return (files("cds_service.cards") / name).read_text(encoding="utf-8")


@cache
def texts() -> dict[str, Any]:
    return json.loads(_read("text.json"))  # type: ignore[no-any-return]


@cache
def evidence_links() -> dict[str, dict[str, str]]:
    return json.loads(_read("evidence.json"))  # type: ignore[no-any-return]


@cache
def referrals() -> dict[str, dict[str, Any]]:
    return json.loads(_read("referrals.json"))  # type: ignore[no-any-return]


@cache
def _environment() -> Environment:
    return Environment(
        loader=FunctionLoader(_read),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        autoescape=False,  # Markdown, not HTML: FHIR text is escaped with md() instead
    )


def template(name: str) -> Template:
    return _environment().get_template(name)

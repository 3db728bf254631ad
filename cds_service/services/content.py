"""Card content from ``cards/`` (installed as ``cds_service.cards``): texts, links, referrals.

FHIR text is untrusted: ``md()`` escapes it before it enters Markdown (README, Security).
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["evidence_links", "md", "read", "referrals", "texts"]

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


def read(name: str) -> str:
    return (files("cds_service.cards") / name).read_text(encoding="utf-8")


@cache
def texts() -> dict[str, Any]:
    return json.loads(read("text.json"))  # type: ignore[no-any-return]


@cache
def evidence_links() -> dict[str, dict[str, str]]:
    return json.loads(read("evidence.json"))  # type: ignore[no-any-return]


@cache
def referrals() -> dict[str, dict[str, Any]]:
    return json.loads(read("referrals.json"))  # type: ignore[no-any-return]

"""The one layout every card detail follows: do-sentence, why, at most one table, source.

A prescriber reads the first line and acts; the rest says why, in plain words with dates, and
where the rule comes from. Each block is one line of Markdown with a blank line between blocks,
so no renderer can run a heading into a paragraph or a paragraph into a list item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from cds_service.clinical.findings import Evidence, Reason
from cds_service.services.content import md

__all__ = ["Detail", "Table", "day", "evidence_phrase", "reason_phrase", "short_day"]

# How a fact's date reads, by the resource it came from.
_DATED = {
    "Observation": "on",
    "Condition": "recorded",
    "AllergyIntolerance": "recorded",
    "Procedure": "on",
    "Encounter": "on",
    "MedicationRequest": "from",
    "MedicationStatement": "from",
    "MedicationAdministration": "on",
}


def day(when: date) -> str:
    """A date as clinicians write it: ``day(date(2024, 3, 25))  # "25 Mar 2024"``."""
    return f"{when.day} {when:%b %Y}"


def short_day(when: date, today: date) -> str:
    """A date for a summary: the year only when it is not this year ("30 Nov")."""
    return f"{when.day} {when:%b}" if when.year == today.year else day(when)


def evidence_phrase(evidence: Evidence) -> str:
    """One fact in plain words, escaped for Markdown: "Cerebral aneurysm, recorded 25 Mar 2024".
    Codes stay in the assessment extension, where software reads them."""
    text = md(evidence.value or evidence.reference)
    kind = evidence.reference.split("/", 1)[0]
    if evidence.date is None or kind == "Patient":
        return text
    return f"{text}, {_DATED.get(kind, 'on')} {day(evidence.date)}"


def reason_phrase(reason: Reason) -> str:
    """Every fact behind a reason, joined: "150/92 mmHg, on 23 Feb 2026"."""
    return "; ".join(evidence_phrase(e) for e in reason.evidence)


@dataclass(frozen=True)
class Table:
    header: Sequence[str]
    rows: Sequence[Sequence[str]]

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cells) + " |"

        return "\n".join(
            [line(self.header), line(["---"] * len(self.header)), *map(line, self.rows)]
        )


@dataclass(frozen=True)
class Detail:
    """``do``: what to do now, in bold. ``why``: the evidence, one paragraph or a list.
    ``notes``: short paragraphs after it. ``source``: where the rule comes from."""

    do: str
    why: Sequence[str] = field(default_factory=tuple)
    bullets: bool = False  # a list even for one item, after a do-sentence that ends "check:"
    notes: Sequence[str] = field(default_factory=tuple)
    table: Table | None = None
    source: str = ""

    def markdown(self) -> str:
        blocks = [f"**{self.do}**"]
        why = [w for w in self.why if w]
        if len(why) == 1 and not self.bullets:
            blocks.append(why[0])
        elif why:
            blocks.append("\n".join(f"- {w}" for w in why))
        blocks += [n for n in self.notes if n]
        if self.table is not None and self.table.rows:
            blocks.append(self.table.markdown())
        if self.source:
            blocks.append(f"Source: {self.source}")
        return "\n\n".join(blocks)

"""Card Markdown as plain text for a terminal (``ketamine-cds evaluate --format text``):
paragraphs wrapped, list items bulleted, the table in aligned columns, no Markdown marks."""

from __future__ import annotations

import textwrap

from markdown_it import MarkdownIt
from markdown_it.token import Token

__all__ = ["markdown_to_text"]

_PARSER = MarkdownIt("commonmark").enable("table")


def _inline(token: Token) -> str:
    return "".join(
        " " if child.type in ("softbreak", "hardbreak") else child.content
        for child in token.children or []
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    )


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return [line.rstrip() for line in lines]


def markdown_to_text(source: str, width: int = 96) -> str:
    """Usage: ``markdown_to_text("**Do this.**\\n\\n- why")  # "Do this.\\n\\n- why"``"""
    blocks: list[str] = []
    rows: list[list[str]] | None = None
    bullet = False
    for token in _PARSER.parse(source):
        if token.type == "table_open":
            rows = []
        elif token.type == "tr_open" and rows is not None:
            rows.append([])
        elif token.type == "inline" and rows is not None:
            rows[-1].append(_inline(token))
        elif token.type == "table_close" and rows:
            blocks.append("\n".join(_table(rows)))
            rows = None
        elif token.type == "list_item_open":
            bullet = True
        elif token.type == "inline":
            text = _inline(token)
            if bullet:
                wrapped = textwrap.fill(text, width, initial_indent="- ", subsequent_indent="  ")
                if blocks and blocks[-1].startswith("- ") and not blocks[-1].endswith("\n"):
                    blocks[-1] += "\n" + wrapped
                else:
                    blocks.append(wrapped)
            else:
                blocks.append(textwrap.fill(text, width))
        elif token.type == "list_item_close":
            bullet = False
    return "\n\n".join(blocks)

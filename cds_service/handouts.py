"""Patient handouts at ``/handouts/<drug>``: printable HTML in plain language, no PHI, no login.

The text is Markdown in ``cards/handouts/`` (installed as ``cds_service.cards``), which
clinical staff edit like the card texts. Cards link here (services/common.py ``handout``).
"""

from __future__ import annotations

from functools import cache
from html import escape
from importlib.resources import files

from flask import Blueprint, Response
from markdown_it import MarkdownIt

from cds_service.errors import CdsError

__all__ = ["HANDOUTS", "bp", "handout_html", "handout_markdown"]

HANDOUTS = ("ketamine", "esketamine")

bp = Blueprint(
    "handouts", __name__, static_folder="handout_static", static_url_path="/handouts/static"
)

# The page's own stylesheet; no script, no external resources, printable on its own.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


class UnknownHandout(CdsError):
    status = 404
    issue_code = "not-found"
    error_code = "unknown-handout"


def handout_markdown(drug: str) -> str:
    return (files("cds_service.cards") / "handouts" / f"{drug}.md").read_text(encoding="utf-8")


@cache
def handout_html(drug: str) -> str:
    """The whole page. Raw HTML in the Markdown is not rendered: the file is text, not markup."""
    source = handout_markdown(drug)
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(source)
    title = _title(drug)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n"
        '<link rel="stylesheet" href="/handouts/static/handout.css">\n'
        f"</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


@bp.get("/handouts")
def index() -> Response:
    """Both handouts, for a card with room for one link to them."""
    items = "".join(
        f'<li><a href="/handouts/{drug}">{escape(_title(drug))}</a></li>\n' for drug in HANDOUTS
    )
    html = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Patient handouts</title>\n"
        '<link rel="stylesheet" href="/handouts/static/handout.css">\n'
        f"</head>\n<body>\n<main>\n<h1>Patient handouts</h1>\n<ul>\n{items}</ul>\n"
        "</main>\n</body>\n</html>\n"
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def _title(drug: str) -> str:
    return handout_markdown(drug).splitlines()[0].lstrip("# ").strip()


@bp.get("/handouts/<drug>")
def handout(drug: str) -> Response:
    if drug not in HANDOUTS:
        raise UnknownHandout(
            f"There is no handout {drug!r}. Handouts: "
            + ", ".join(f"/handouts/{h}" for h in HANDOUTS)
        )
    response = Response(handout_html(drug), mimetype="text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response

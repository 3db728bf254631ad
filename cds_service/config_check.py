"""``ketamine-cds check-config``: is this deployment's configuration usable, and is it safe?

Each finding is an error (the service would fail or refuse every call), a warning (it would run,
but not as production should) or ok. Nothing is written, except that SQLite creates its file
when first pinged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cds_service.config import NO_ISSUERS_ADVICE

__all__ = ["Finding", "check_configuration"]

Level = Literal["error", "warning", "ok"]


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def check_configuration() -> list[Finding]:
    from cds_service.config import Settings
    from cds_service.settings_errors import SETTINGS_ERRORS, describe

    try:
        settings = Settings()
    except SETTINGS_ERRORS as exc:
        return [Finding("error", line) for line in describe(exc)]
    return [
        Finding("ok", "settings are valid"),
        *_knowledge(settings.knowledge_extra_dir),
        *_security(settings),
        *_smart_view(settings),
        *_database(str(settings.database_url)),
    ]


def _knowledge(extra_dir: Path | None) -> list[Finding]:
    from cds_service.record.terminology import Terminology, knowledge_root

    findings: list[Finding] = []
    if extra_dir is not None:
        if not extra_dir.is_dir():
            return [Finding("error", f"knowledge_extra_dir {extra_dir} is not a directory")]
        for path in sorted(extra_dir.glob("**/*.json")):
            problem = _knowledge_file_problem(path, extra_dir)
            if problem:
                findings.append(Finding("error", f"{path}: {problem}"))
    if findings:
        return findings
    shipped = Terminology([knowledge_root()])
    try:
        sources: list[Any] = [knowledge_root()] + ([extra_dir] if extra_dir else [])
        loaded = Terminology(sources)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [Finding("error", f"value sets do not load: {type(exc).__name__}: {exc}")]
    findings.append(
        Finding(
            "ok",
            f"{len(loaded.valuesets)} value sets and {len(loaded.ingredients)} ingredients load"
            + (
                f" ({len(loaded.valuesets) - len(shipped.valuesets)} site sets added)"
                if extra_dir
                else ""
            ),
        )
    )
    return findings


def _knowledge_file_problem(path: Path, root: Path) -> str | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"not readable JSON ({exc})"
    if path.parent.name != "valuesets":
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return "a value set needs a string 'id'"
    for part in ("include", "exclude"):
        rules = data.get(part, [])
        if not isinstance(rules, list) or not all(
            isinstance(r, dict) and isinstance(r.get("system"), str) for r in rules
        ):
            return f"'{part}' must be a list of objects, each with a 'system'"
    return None


def _security(settings: Any) -> list[Finding]:
    from cds_service.protocol.auth import parse_jwks

    findings: list[Finding] = []
    if not settings.auth_enabled:
        findings.append(Finding("warning", "authentication is off: for local development only"))
    elif not settings.trusted_issuers:
        findings.append(
            Finding(
                "error", f"no trusted issuers: every service call will get 401. {NO_ISSUERS_ADVICE}"
            )
        )
    for issuer in settings.trusted_issuers:
        if issuer.jwks_file is not None:
            try:
                keys = parse_jwks(issuer.jwks_file.read_text(encoding="utf-8"))
            except OSError:
                keys = {}
            level: Level = "ok" if keys else "error"
            findings.append(
                Finding(
                    level, f"issuer {issuer.iss}: {len(keys)} usable keys in {issuer.jwks_file}"
                )
            )
        for url in issuer.jku:
            if not url.lower().startswith("https://"):
                findings.append(
                    Finding("warning", f"issuer {issuer.iss}: jku {url} is http (development only)")
                )
    if settings.trust_cds_hooks_sandbox:
        findings.append(
            Finding(
                "warning",
                "the CDS Hooks Sandbox is trusted: its private key is public, so anyone who can "
                "reach this service can sign as it; development only (audiences "
                + ", ".join(settings.public_base_urls)
                + ")",
            )
        )
    if "*" in settings.cors_origins:
        findings.append(Finding("warning", "CORS allows any origin; list the EHR origins"))
    if settings.fhir_allow_http_loopback:
        findings.append(Finding("warning", "http FHIR callbacks to localhost are allowed"))
    findings.append(_handout_links(settings))
    exposure = settings.slow_client_exposure()
    findings.append(
        Finding("warning", exposure)
        if exposure
        else Finding("ok", f"slow clients cannot hold workers ({_why_not_exposed(settings)})")
    )
    return findings


def _smart_view(settings: Any) -> list[Finding]:
    """The TRD and course view: where it can be launched from, and what it needs to."""
    import os

    from cds_service.smartapp.chart import unreadable_smart_servers
    from cds_service.smartapp.routes import redirect_uri

    if not settings.smart_clients:
        return [Finding("ok", "the TRD and course view is off: no KETAMINE_CDS_SMART_CLIENTS")]
    findings = [
        Finding(
            "ok",
            f"the TRD and course view can be launched from {len(settings.smart_clients)} FHIR "
            f"server(s); register the redirect URI {redirect_uri(settings)}",
        )
    ]
    findings += [
        Finding(
            "error",
            f"smart_clients: {url} is not on the FHIR callback allowlist or any issuer's "
            "fhir_servers, so every launch from it is refused",
        )
        for url in unreadable_smart_servers(settings)
    ]
    if settings.smart_session_key is None:
        findings.append(
            Finding("warning", "the view's session key is generated in the data directory")
        )
    if int(os.environ.get("KETAMINE_CDS_THREADS", "1")) <= 1:
        findings.append(
            Finding(
                "warning",
                "the view reads a whole chart, which can take seconds, and each worker has one "
                "thread; set KETAMINE_CDS_THREADS=4 so hook calls do not wait behind it",
            )
        )
    return findings


def _why_not_exposed(settings: Any) -> str:
    if settings.behind_buffering_proxy:
        return "a proxy in front buffers whole requests"
    return f"listening on loopback only, {settings.bind}"


def _handout_links(settings: Any) -> Finding:
    """Cards link the patient handouts; a link a browser cannot open is a broken card."""
    base = settings.links_base_url()
    if settings.public_base_url:
        return Finding("ok", f"cards link the patient handouts at {base}/handouts/")
    host = base.split("://", 1)[1].rsplit(":", 1)[0]
    if host in ("localhost", "127.0.0.1", "[::1]") or host.startswith("127."):
        return Finding(
            "ok", f"cards link the patient handouts at {base}/handouts/ (local development)"
        )
    return Finding(
        "warning",
        f"cards link the patient handouts at {base}/handouts/, the bind address; set "
        "KETAMINE_CDS_PUBLIC_BASE_URL to the URL clinicians' browsers reach",
    )


def _database(url: str) -> list[Finding]:
    from sqlalchemy.engine import make_url

    from cds_service.storage import Database

    shown = make_url(url).render_as_string(hide_password=True)
    try:
        database = Database(url)
    except Exception as exc:  # any driver or URL problem is a finding, not a crash
        return [Finding("error", f"database {shown}: {type(exc).__name__}")]
    try:
        reachable = database.ping()
    finally:
        database.dispose()
    if reachable:
        return [Finding("ok", f"database {shown} is reachable")]
    return [Finding("error", f"database {shown} is not reachable")]

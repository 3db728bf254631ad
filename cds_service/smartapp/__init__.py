"""The TRD and course view (issue 17): a SMART on FHIR app launched from the cards.

``oauth`` is the EHR launch (discovery, authorization, token exchange, by Authlib), ``store``
keeps launches and sessions server-side, ``chart`` reads and assesses the chart exactly as the
patient-view hook does, ``timeline``, ``charts`` and ``summary`` make what the page shows, and
``routes`` serves it under ``/app``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet

from cds_service.smartapp.chart import unreadable_smart_servers
from cds_service.smartapp.routes import bp
from cds_service.smartapp.store import SessionStore
from cds_service.storage.kept_secret import kept_secret

if TYPE_CHECKING:
    from flask import Flask

    from cds_service.config import Settings
    from cds_service.storage import Database

__all__ = ["register"]

log = logging.getLogger(__name__)

KEY_FILE = "smart-session-key"


def register(app: Flask, settings: Settings, db: Database) -> None:
    """Serve ``/app``; with SMART clients configured, keep its sessions in ``db``."""
    app.register_blueprint(bp)
    if not settings.smart_clients:
        return
    for url in unreadable_smart_servers(settings):
        log.error(
            "a SMART client's FHIR server is not on the FHIR callback allowlist, so every "
            "launch from it will be refused",
            extra={"fhir_server": url},
        )
    if settings.smart_session_key is not None:
        key = settings.smart_session_key.get_secret_value()
    else:  # the settings allow this only with authentication off (`make run`)
        key = kept_secret(
            settings.data_dir,
            KEY_FILE,
            lambda: Fernet.generate_key().decode("ascii"),
            setting="KETAMINE_CDS_SMART_SESSION_KEY",
        )
        log.warning(
            "the SMART view's session key was generated in the data directory; set "
            "KETAMINE_CDS_SMART_SESSION_KEY outside local development"
        )
    app.extensions["ketamine_cds_smart"] = SessionStore(
        db,
        key,
        app.extensions["ketamine_cds"].clock,
        idle_s=settings.smart_session_idle_s,
        launch_ttl_s=settings.smart_launch_ttl_s,
    )

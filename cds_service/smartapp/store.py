"""Pending launches and view sessions, server-side, with their secrets encrypted at rest.

The browser holds only random values: a pre-auth cookie between launch and callback, then a
session id. The database holds their SHA-256 hashes and, sealed with the session key (Fernet:
AES-128-CBC with HMAC-SHA256), the PKCE verifier, the token and the patient id. A launch is
taken once (its row is deleted by the callback that uses it), so a replayed callback finds
nothing. A session ends after its idle time, when its access token expires, or after
``SESSION_MAX_S`` in all.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, func, select, update

from cds_service.storage import Database
from cds_service.storage.models import SmartLaunch, SmartSession

__all__ = ["PendingLaunch", "SessionStore", "TokenGrant", "TooManyLaunches", "ViewSession"]


@dataclass(frozen=True)
class PendingLaunch:
    iss: str
    token_endpoint: str
    code_verifier: str
    issuer: str | None = None  # the authorization server's, to check an ``iss`` in the callback
    issuer_required: bool = False  # it promised to send that ``iss`` (RFC 9207)


@dataclass(frozen=True)
class TokenGrant:
    """What the token endpoint granted: a bearer token for one patient's chart."""

    iss: str
    access_token: str
    patient: str
    expires_in: float | None


@dataclass(frozen=True)
class ViewSession:
    iss: str
    access_token: str
    patient: str
    token_expires_at: float | None  # POSIX seconds on the store's clock, when the server said
    handle: str  # names this launch's view in its URL, so a later launch cannot take its place
    ends_at: float  # the absolute end, however busy the session is kept


# Anyone may begin a launch, so pending ones are capped; at the default 5-minute life this is
# 33 launches a second, far above what clinicians click.
MAX_PENDING_LAUNCHES = 10_000
# However busy a session is kept, and whatever the token's own life, it ends after a shift.
SESSION_MAX_S = 12 * 3600


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive UTC datetimes; PostgreSQL aware ones."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


class TooManyLaunches(Exception):
    """More launches wait for their callback than the store keeps."""


class SessionStore:
    def __init__(
        self,
        db: Database,
        key: str,
        clock: Callable[[], datetime],
        *,
        idle_s: int,
        launch_ttl_s: int,
        max_pending: int = MAX_PENDING_LAUNCHES,
    ) -> None:
        self._db = db
        self._fernet = Fernet(key)
        self._clock = clock
        self._idle = timedelta(seconds=idle_s)
        self._launch_ttl = timedelta(seconds=launch_ttl_s)
        self._max_pending = max_pending

    def _seal(self, data: Any) -> str:
        return self._fernet.encrypt(orjson.dumps(asdict(data))).decode("ascii")

    def _open(self, sealed: str) -> dict[str, Any] | None:
        try:
            return orjson.loads(self._fernet.decrypt(sealed.encode("ascii")))  # type: ignore[no-any-return]
        except (InvalidToken, ValueError):
            return None  # sealed under another key: as good as gone

    def begin_launch(self, pending: PendingLaunch) -> tuple[str, str]:
        """Keep ``pending``; returns the ``state`` and the pre-auth cookie's value."""
        state, browser = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.session() as session, session.begin():
            session.execute(delete(SmartLaunch).where(SmartLaunch.expires_at <= now))
            waiting = session.scalar(select(func.count()).select_from(SmartLaunch)) or 0
            if waiting >= self._max_pending:
                raise TooManyLaunches
            session.add(
                SmartLaunch(
                    state_hash=_hash(state),
                    browser_hash=_hash(browser),
                    sealed=self._seal(pending),
                    expires_at=now + self._launch_ttl,
                )
            )
        return state, browser

    def take_launch(self, state: str, browser: str | None) -> PendingLaunch | None:
        """The launch ``state`` names, once, and only in the browser that began it."""
        now = self._clock()
        with self._db.session() as session, session.begin():
            row = session.get(SmartLaunch, _hash(state))
            if row is None:
                return None
            result = session.execute(
                delete(SmartLaunch).where(SmartLaunch.state_hash == row.state_hash)
            )
            claimed = getattr(result, "rowcount", 0)
        if claimed != 1 or _aware(row.expires_at) <= now:
            return None
        if browser is None or not secrets.compare_digest(row.browser_hash, _hash(browser)):
            return None
        data = self._open(row.sealed)
        return PendingLaunch(**data) if data else None

    def open_session(self, grant: TokenGrant) -> tuple[str, str]:
        """Keep the session ``grant`` opens under a new random id; the id and the view's
        handle are returned."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock()
        expires = now.timestamp() + grant.expires_in if grant.expires_in is not None else None
        view = ViewSession(
            grant.iss,
            grant.access_token,
            grant.patient,
            expires,
            handle=secrets.token_urlsafe(16),
            ends_at=now.timestamp() + SESSION_MAX_S,
        )
        with self._db.session() as session, session.begin():
            session.execute(delete(SmartSession).where(SmartSession.expires_at <= now))
            session.add(
                SmartSession(
                    id_hash=_hash(session_id),
                    sealed=self._seal(view),
                    expires_at=now + self._idle,
                )
            )
        return session_id, view.handle

    def session(self, session_id: str) -> ViewSession | None:
        """The live session ``session_id`` names, its idle time restarted; None when it has
        expired, its token has, or it never existed."""
        now = self._clock()
        with self._db.session() as session, session.begin():
            row = session.get(SmartSession, _hash(session_id))
            if row is None:
                return None
            data = self._open(row.sealed)
            view = ViewSession(**data) if data else None
            alive = (
                view is not None
                and _aware(row.expires_at) > now
                and view.ends_at > now.timestamp()
                and (view.token_expires_at is None or view.token_expires_at > now.timestamp())
            )
            if not alive:
                session.execute(delete(SmartSession).where(SmartSession.id_hash == row.id_hash))
                return None
            session.execute(
                update(SmartSession)
                .where(SmartSession.id_hash == row.id_hash)
                .values(expires_at=now + self._idle)
            )
        return view

    def count(self) -> tuple[int, int]:
        """Rows kept: (launches, sessions), for tests and the operator."""
        with self._db.session() as session:
            launches = session.scalar(select(func.count()).select_from(SmartLaunch))
            sessions = session.scalar(select(func.count()).select_from(SmartSession))
        return launches or 0, sessions or 0

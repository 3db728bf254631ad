"""Launches and sessions: taken once, expired on time, sealed under the session key."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from cryptography.fernet import Fernet

from cds_service.smartapp.store import PendingLaunch, SessionStore, TokenGrant
from cds_service.storage import Database
from tests.smartapp.conftest import Clock

pytestmark = pytest.mark.both_databases

PENDING = PendingLaunch("https://fhir.example.org", "https://auth.example.org/token", "v" * 64)
GRANT = TokenGrant("https://fhir.example.org", "t0k3n", "p1", 3600.0)


@pytest.fixture
def db(database_url: str | None, tmp_path: Any) -> Any:
    database = Database(database_url or f"sqlite:///{tmp_path / 'store.sqlite3'}")
    database.create_schema()
    yield database
    database.dispose()


def store_on(db: Database, clock: Clock, key: bytes | None = None) -> SessionStore:
    return SessionStore(db, (key or KEY).decode(), clock, idle_s=1800, launch_ttl_s=300)


KEY = Fernet.generate_key()


def test_concurrent_callbacks_take_a_launch_once(db: Database, clock: Clock) -> None:
    store = store_on(db, clock)
    state, browser = store.begin_launch(PENDING)
    taken: list[Any] = []
    start = threading.Barrier(4)

    def take() -> None:
        start.wait()
        taken.append(store.take_launch(state, browser))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert [t for t in taken if t is not None] == [PENDING]
    assert len(taken) == 4


def test_expired_rows_are_purged_by_later_launches_and_sessions(db: Database, clock: Clock) -> None:
    store = store_on(db, clock)
    store.begin_launch(PENDING)
    store.open_session(GRANT)
    assert store.count() == (1, 1)
    clock.advance(hours=2)
    store.begin_launch(PENDING)
    store.open_session(GRANT)
    assert store.count() == (1, 1)


def test_a_new_key_ends_every_session_and_launch(db: Database, clock: Clock) -> None:
    old = store_on(db, clock)
    state, browser = old.begin_launch(PENDING)
    session_id, _ = old.open_session(GRANT)
    new = store_on(db, clock, Fernet.generate_key())
    assert new.session(session_id) is None
    assert new.take_launch(state, browser) is None
    assert old.session(session_id) is None  # the failed read ended it


def test_a_session_keeps_the_grant_and_times_the_token_on_the_stores_clock(
    db: Database, clock: Clock
) -> None:
    store = store_on(db, clock)
    session_id, handle = store.open_session(GRANT)
    view = store.session(session_id)
    assert view is not None
    assert (view.iss, view.access_token, view.patient) == (
        "https://fhir.example.org",
        "t0k3n",
        "p1",
    )
    assert view.token_expires_at == (clock.now + timedelta(hours=1)).timestamp()
    assert view.handle == handle and len(handle) == 22

"""``insert_new``: rows already stored are skipped and not counted, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from cds_service.storage import Database
from cds_service.storage.dialects import _insert_one_by_one, insert_new
from cds_service.storage.models import UsedTokenId

pytestmark = pytest.mark.both_databases

EXPIRES = datetime(2030, 1, 1, tzinfo=UTC)


def token(jti: str) -> dict[str, Any]:
    return {"issuer": "https://ehr.example.org", "jti": jti, "expires_at": EXPIRES}


@pytest.fixture
def db(database_url) -> Iterator[Database]:
    database = Database(database_url)
    database.create_schema()
    yield database
    database.dispose()


# insert_new on these two databases; one row at a time, in savepoints, on any other.
INSERTS = [insert_new, _insert_one_by_one]


@pytest.mark.parametrize("insert", INSERTS, ids=["on-conflict", "savepoints"])
def test_only_new_rows_are_inserted_and_counted(db, insert: Callable[..., int]) -> None:
    with db.session() as session:
        assert insert(session, UsedTokenId, [token("a"), token("b"), token("a")]) == 2
        session.commit()
    with db.session() as session:
        assert insert(session, UsedTokenId, [token("b"), token("c")]) == 1
        session.commit()  # the transaction is still usable after a skipped row
    with db.session() as session:
        assert sorted(session.scalars(select(UsedTokenId.jti))) == ["a", "b", "c"]


def test_expired_token_ids_are_purged_at_most_once_an_interval(db, monkeypatch) -> None:
    from cds_service.storage import replay

    past = datetime(2020, 1, 1, tzinfo=UTC)
    far = datetime(2099, 1, 1, tzinfo=UTC).timestamp()

    def store_expired(jti: str) -> None:
        with db.session() as session:
            insert_new(session, UsedTokenId, [{**token(jti), "expires_at": past}])
            session.commit()

    def stored() -> list[str]:
        with db.session() as session:
            return sorted(session.scalars(select(UsedTokenId.jti)))

    store_expired("old-1")
    assert replay.remember_jti(db, "new-1", "https://ehr.example.org", far, 60)
    assert stored() == ["new-1"]

    store_expired("old-2")
    assert replay.remember_jti(db, "new-2", "https://ehr.example.org", far, 60)
    assert stored() == ["new-1", "new-2", "old-2"]  # within the interval: not purged again

    monkeypatch.setattr(replay, "PURGE_INTERVAL_S", 0.0)
    monkeypatch.setitem(replay._next_purge, db, 0.0)
    assert replay.remember_jti(db, "new-3", "https://ehr.example.org", far, 60)
    assert stored() == ["new-1", "new-2", "new-3"]


def test_each_call_reuses_the_compiled_insert(db) -> None:
    """The replay check inserts on every hook call; compiling its SQL each time cost more
    than the insert itself."""
    from sqlalchemy import event
    from sqlalchemy.engine.default import CACHE_HIT

    hits: list[bool] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool):
        if statement.lstrip().upper().startswith("INSERT"):
            hits.append(context.cache_hit is CACHE_HIT)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for jti in ("x", "y", "z"):
            with db.engine.begin() as connection:
                assert insert_new(connection, UsedTokenId, [token(jti)]) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert hits[1:] == [True, True]

"""Two worker processes on one database at once, as gunicorn runs them, on SQLite and PostgreSQL.

Each round both workers wait at a barrier, then offer the same rows: feedback must be stored
once, and a token id accepted by exactly one of them. Items go in a different order in each
worker, as two EHR retries might send them.
"""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cds_service.protocol.models import FeedbackRequest
from cds_service.storage import Database, record_feedback, remember_jti
from cds_service.storage.models import FeedbackRecord, UsedTokenId

pytestmark = pytest.mark.both_databases

WORKERS = 2
ROUNDS = 25
ITEMS_PER_ROUND = 5
SERVICE = "ketamine-trd-patient-view"
ISSUER = "https://ehr.example.org"


def _feedback_round(round_: int) -> FeedbackRequest:
    items = [
        {
            "card": f"00000000-0000-4000-8000-{round_:06d}{item:06d}",
            "outcome": "overridden",
            "outcomeTimestamp": f"2026-03-02T10:{round_ % 60:02d}:{item:02d}.5Z",
            "overrideReason": {"reason": {"code": "patient-declines"}},
        }
        for item in range(ITEMS_PER_ROUND)
    ]
    return FeedbackRequest.model_validate({"feedback": items})


def _start_and_store_feedback(url: str, worker: int, barrier: Any) -> int:
    """Start on the (maybe empty) database with the other worker, then store every round."""
    db = Database(url)
    try:
        barrier.wait()
        db.create_schema()
        shuffle = random.Random(worker).shuffle
        stored = 0
        for round_ in range(ROUNDS):
            items = _feedback_round(round_).feedback
            shuffle(items)
            barrier.wait()
            stored += record_feedback(db, SERVICE, items).stored
        return stored
    finally:
        db.dispose()


def _offer_tokens(url: str, worker: int, barrier: Any) -> list[str]:
    db = Database(url)
    try:
        expires = time.time() + 300
        accepted = []
        for round_ in range(ROUNDS):
            jtis = [f"jti-{round_}-{n}" for n in range(ITEMS_PER_ROUND)]
            random.Random(worker * 1000 + round_).shuffle(jtis)
            barrier.wait()
            accepted += [jti for jti in jtis if remember_jti(db, jti, ISSUER, expires, 60)]
        return accepted
    finally:
        db.dispose()


def _worker(target: Callable[..., Any], url: str, worker: int, barrier: Any, results: Any) -> None:
    try:
        results.put((worker, target(url, worker, barrier)))
    except BaseException:
        barrier.abort()  # the other worker stops waiting
        results.put((worker, traceback.format_exc()))


def run_together(target: Callable[..., Any], url: str) -> list[Any]:
    """What ``target(url, worker, barrier)`` returned in each of two new processes."""
    context = multiprocessing.get_context("spawn")  # fresh interpreters, as separate workers
    barrier = context.Barrier(WORKERS, timeout=60)
    results = context.Queue()
    processes = [
        context.Process(target=_worker, args=(target, url, n, barrier, results))
        for n in range(WORKERS)
    ]
    for process in processes:
        process.start()
    try:
        outcomes = dict(results.get(timeout=120) for _ in processes)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
    failures = [o for o in outcomes.values() if isinstance(o, str)]
    assert not failures, "\n".join(sorted(failures, key=lambda f: "BrokenBarrierError" in f))
    return [outcomes[n] for n in range(WORKERS)]


def test_workers_starting_together_store_each_feedback_item_once(database_url) -> None:
    stored = run_together(_start_and_store_feedback, database_url)

    expected = ROUNDS * ITEMS_PER_ROUND
    assert sum(stored) == expected  # every item reported stored by exactly one worker
    db = Database(database_url)
    with db.session() as session:
        keys = session.execute(
            select(FeedbackRecord.card_uuid, FeedbackRecord.outcome_timestamp)
        ).all()
        assert session.scalar(select(func.count(FeedbackRecord.id))) == expected
    db.dispose()
    assert len(set(keys)) == expected


def test_a_token_offered_to_two_workers_at_once_is_accepted_once(database_url) -> None:
    db = Database(database_url)
    db.create_schema()
    first, second = run_together(_offer_tokens, database_url)

    assert not set(first) & set(second)
    assert sorted(first + second) == sorted(
        f"jti-{r}-{n}" for r in range(ROUNDS) for n in range(ITEMS_PER_ROUND)
    )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(UsedTokenId)) == len(first + second)
    db.dispose()

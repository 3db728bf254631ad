"""gunicorn settings: the garbage-collector tuning the workers inherit from the master."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from cds_service import gunicorn_conf


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_the_master_freezes_what_it_loaded_and_raises_the_young_threshold(
    restored_gc: None,
) -> None:
    loaded = [{"value-set": n} for n in range(1000)]

    gunicorn_conf.when_ready(object())

    assert gc.get_freeze_count() >= len(loaded)
    assert gc.get_threshold()[0] == gunicorn_conf.GC_GEN0_THRESHOLD == 50_000


def test_the_gunicorn_hooks_are_real_settings() -> None:
    from gunicorn.config import Config

    names = {k for k in vars(gunicorn_conf) if not k.startswith("_")}
    assert {"when_ready", "child_exit"} <= names & set(Config().settings)

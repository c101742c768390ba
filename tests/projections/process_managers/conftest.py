"""Projection tests run followers themselves, with a clean cache and no wake-up reaching a broker."""

import pytest
from django.core.cache import cache

from projections.tasks import run_follower


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Start without pending wake-ups or cache generations left by another test (locmem, or Redis db 4)."""
    cache.clear()


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[str]:
    """The follower runs that wake-ups would have enqueued, by name.

    Nothing runs by itself (not even with eager Celery): each test catches
    followers up when its story says so, the same way on every backend.
    """
    names: list[str] = []

    def record(args=None, kwargs=None, **options):
        names.append(args[0])

    monkeypatch.setattr(run_follower, "apply_async", record)
    return names

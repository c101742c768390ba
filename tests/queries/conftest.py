"""Fixtures for the query API tests.

The tests read through the replica when one is configured; a replica is a
separate connection, which sees only committed rows, so the tests are
transactional (each module marks itself so). The root conftest empties the
cache before each test: no cached responses, generations or throttle history.
"""

import pytest


@pytest.fixture(autouse=True)
def _short_min_position_wait(settings):
    """A short wait for X-Min-Position, so a test of the 503 answers quickly."""
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = 0.2


@pytest.fixture
def live_projections(settings):
    """Projections run inline as each command commits, as Celery does on the embedded default."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def held_projections(settings):
    """Wake-ups go to a broker nobody consumes: the read models stay where they are until a test moves them."""
    settings.CELERY_TASK_ALWAYS_EAGER = False

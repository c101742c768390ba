"""Tests on a real PostgreSQL streaming replica: `make replica`, and READ_REPLICA_URLS pointing at it (CI does).

Without one they are skipped, with the reason; with REQUIRE_REPLICA=1 (CI) they fail instead.
"""

import os

import pytest
from django.conf import settings
from django.db import OperationalError

from tests.replica.helpers import REPLICA, StreamingReplica
from tests.replication import is_standby, replication_lag_allowed
from tests.service_fixtures import _passwords_the_services_can_check, services  # noqa: F401  (fixtures)

NO_REPLICA = (
    "needs a streaming replica: run `make replica`, then set "
    "READ_REPLICA_URLS=postgres://postgres@127.0.0.1:5433/<read database> (README: Tests)"
)


@pytest.fixture
def streaming_replica(transactional_db):
    """The replica behind read_replica_1; left running, replaying and caught up for the next test."""
    problem = _why_not_a_streaming_replica()
    if problem:
        if os.environ.get("REQUIRE_REPLICA") == "1":
            pytest.fail(f"REQUIRE_REPLICA=1, but {problem}: {NO_REPLICA}")
        pytest.skip(f"{problem}: {NO_REPLICA}")
    replica = StreamingReplica()
    yield replica
    if not replica.running():
        replica.start()
    replica.resume_replay()
    replica.wait_until_replayed()


@pytest.fixture
def replication_lag():
    """Reads see the replica as it is, lagging or stopped: nothing waits for its replay (tests/replication.py)."""
    with replication_lag_allowed():
        yield


def _why_not_a_streaming_replica() -> str:
    if REPLICA not in settings.DATABASES:
        return "READ_REPLICA_URLS is not set"
    if settings.DATABASES[REPLICA]["ENGINE"] != "django.db.backends.postgresql":
        return f"{REPLICA} is not PostgreSQL"
    try:
        standby = is_standby(REPLICA)
    except OperationalError as error:
        return f"{REPLICA} cannot be reached ({str(error).strip().splitlines()[0]})"
    return "" if standby else f"{REPLICA} is the read primary's own server, not a standby"

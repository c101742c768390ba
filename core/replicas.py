"""Which read replicas can serve: the configured ones that answer.

A replica that cannot be reached is left out for READ_REPLICA_RETRY_SECONDS;
meanwhile queries read from the other replicas, or from the read primary
`read` (which every replica copies, so the answers are the same, only fresher).
After that the next unit of work tries it again, so a replica that comes back
is used again without a restart. Each process keeps its own record: there is
no shared state to lose, and a stopped replica costs each process one refused
connection per retry interval.
"""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connections
from prometheus_client import Counter

logger = logging.getLogger(__name__)

REPLICA_PREFIX = "read_replica_"

UNREACHABLE = Counter(
    "shop_read_replica_unreachable_total",
    "Times a read replica could not be reached and queries fell back to another database.",
    ["replica"],
)

# replica alias -> time.monotonic() before which it is not tried again
_left_out_until: dict[str, float] = {}


def replica_aliases() -> list[str]:
    """Return the configured read replica aliases, in order."""
    return sorted(alias for alias in settings.DATABASES if alias.startswith(REPLICA_PREFIX))


def reachable(alias: str) -> bool:
    """Return whether replica `alias` answers, connecting to it if need be; remember a failure.

    An open connection is health-checked once per request (CONN_HEALTH_CHECKS),
    so a replica that went away while the connection idled is noticed here,
    not halfway through a query.
    """
    if time.monotonic() < _left_out_until.get(alias, 0.0):
        return False
    connection = connections[alias]
    try:
        connection.close_if_health_check_failed()
        connection.ensure_connection()
    except DatabaseError as error:
        _leave_out(alias, error)
        return False
    if _left_out_until.pop(alias, None) is not None:
        logger.info("read replica %s answers again; queries read from it", alias)
    return True


def _leave_out(alias: str, error: Exception) -> None:
    retry = settings.READ_REPLICA_RETRY_SECONDS
    first = alias not in _left_out_until
    _left_out_until[alias] = time.monotonic() + retry
    UNREACHABLE.labels(replica=alias).inc()
    if first:  # one line per outage, not one per retry
        logger.warning(
            "read replica %s cannot be reached (%s); queries read elsewhere, trying it again every %ss",
            alias,
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
            retry,
        )

"""Health endpoints for load balancers and orchestrators.

/healthz: the process is alive (no I/O). /readyz: the write database, the read
primary and the broker answer, no transaction has held positions of the event
log open for long, and no projection or subscriber is failed or stalled; 503
with a JSON body naming what is not ready otherwise. A replica that does not
answer is reported as degraded, without making the process unready: queries
read from another replica or the read primary meanwhile.
"""

from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.replicas import replica_aliases


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


# A check that starts with this reports trouble the process works around: it stays ready.
DEGRADED = "degraded"


@never_cache
@require_GET
def readyz(request):
    checks = {**_database_checks(), "broker": _broker_check(), "event_log": _event_log_check(), **_projection_checks()}
    ready = all(result == "ok" or result.startswith(DEGRADED) for result in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)


def _database_checks() -> dict[str, str]:
    results = {}
    for alias in settings.DATABASES:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            results[f"database:{alias}"] = "ok"
        except Exception as error:
            problem = f"unreachable: {_first_line(error)}"
            if alias in replica_aliases():  # queries read from another replica or `read` meanwhile
                problem = f"{DEGRADED}: {problem}; queries read elsewhere"
            results[f"database:{alias}"] = problem
    return results


def _broker_check() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok"  # tasks run in-process: there is no broker to lose
    from config.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"unreachable: {_first_line(error)}"


def _event_log_check() -> str:
    """A transaction holding the append lock for long keeps its events from every projection."""
    from commands.eventlog import oldest_open_append

    try:
        holder = oldest_open_append()
    except Exception as error:
        return f"unknown: {_first_line(error)}"
    limit = settings.READY_MAX_LAG_SECONDS
    if holder is None or holder.seconds <= limit:
        return "ok"
    return (
        f"stalled: a transaction (pid {holder.pid}) has held unprojected positions open for "
        f"{holder.seconds:.0f}s (limit {limit:.0f}s); later commands wait behind it"
    )


def _projection_checks() -> dict[str, str]:
    from projections.status import follower_statuses

    try:
        statuses = follower_statuses()
    except Exception as error:
        return {"projections": f"unknown: {_first_line(error)}"}
    limit = settings.READY_MAX_LAG_SECONDS
    results = {}
    for status in statuses:
        if status.state == "failed":
            results[f"projection:{status.name}"] = f"failed at #{status.failed_position}: {status.last_error}"
        elif status.lag_seconds > limit:
            # The oldest unapplied event has waited too long: the follower is stuck,
            # however few events it is behind.
            results[f"projection:{status.name}"] = (
                f"stalled: event #{status.position + 1}.. waiting {status.lag_seconds:.0f}s (limit {limit:.0f}s)"
            )
        else:
            results[f"projection:{status.name}"] = "ok"
    return results


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]

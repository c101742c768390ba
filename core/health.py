"""Health endpoints for load balancers and orchestrators, and the registry of readiness checks.

/healthz: the process is alive (no I/O). /readyz: the databases and the broker
answer, and every check an app registered (from its AppConfig.ready()) is ok;
503 otherwise. A result that starts with "degraded" is trouble the process
works around: it stays ready (a replica that does not answer, say: queries
read from another replica or the primary). Anyone gets the overall status;
what each check found (hosts, pids, errors) goes only to staff or the bearer
of METRICS_TOKEN, as /metrics does.
"""

from collections.abc import Callable

from celery import current_app
from django.conf import settings
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.metrics import may_see_internals
from core.replicas import replica_aliases

DEGRADED = "degraded"

# A check returns {name: result}: "ok", "degraded: ...", or what is wrong.
Check = Callable[[], dict[str, str]]
_checks: list[Check] = []


def register_check(check: Check) -> Check:
    """Add `check` to /readyz (once, however often an app's ready() runs)."""
    if check not in _checks:
        _checks.append(check)
    return check


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    checks = {**_database_checks(), "broker": _broker_check()}
    for check in _checks:
        checks.update(check())
    ready = all(result == "ok" or result.startswith(DEGRADED) for result in checks.values())
    body = {"status": "ok" if ready else "unavailable"}
    if may_see_internals(request):
        body["checks"] = checks
    return JsonResponse(body, status=200 if ready else 503)


def _database_checks() -> dict[str, str]:
    results = {}
    for alias in settings.DATABASES:
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")
            results[f"database:{alias}"] = "ok"
        except Exception as error:
            problem = f"unreachable: {first_line(error)}"
            if alias in replica_aliases():  # queries read from another replica or `read` meanwhile
                problem = f"{DEGRADED}: {problem}; queries read elsewhere"
            results[f"database:{alias}"] = problem
    return results


def _broker_check() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok"  # tasks run in-process: there is no broker to lose
    try:
        with current_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as error:
        return f"unreachable: {first_line(error)}"


def first_line(error: Exception) -> str:
    """The first line of an error's message (or its type's name): enough for a status line."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]

"""The write side's readiness check: no transaction holds positions of the event log open for long."""

from django.conf import settings

from commands.eventlog import oldest_open_append
from core.health import first_line


def event_log_check() -> dict[str, str]:
    """A transaction holding the append lock for long keeps its events from every projection."""
    try:
        holder = oldest_open_append()
    except Exception as error:
        return {"event_log": f"unknown: {first_line(error)}"}
    limit = settings.READY_MAX_LAG_SECONDS
    if holder is None or holder.seconds <= limit:
        return {"event_log": "ok"}
    return {
        "event_log": f"stalled: a transaction (pid {holder.pid}) has held unprojected positions open for "
        f"{holder.seconds:.1f}s (limit {limit:g}s); later commands wait behind it"
    }

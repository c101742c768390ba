"""The projection side's readiness check and metrics: each follower's state and lag, read when asked."""

from django.conf import settings
from prometheus_client.core import GaugeMetricFamily

from core.health import first_line
from projections.status import follower_statuses


def followers_check() -> dict[str, str]:
    """Not ready while a follower is failed, or its oldest unapplied event has waited too long."""
    try:
        statuses = follower_statuses()
    except Exception as error:
        return {"projections": f"unknown: {first_line(error)}"}
    limit = settings.READY_MAX_LAG_SECONDS
    results = {}
    for status in statuses:
        if status.state == "failed":
            results[f"projection:{status.name}"] = f"failed at #{status.failed_position}: {status.last_error}"
        elif status.lag_seconds > limit:
            # The oldest unapplied event has waited too long: the follower is stuck,
            # however few events it is behind.
            results[f"projection:{status.name}"] = (
                f"stalled: event #{status.position + 1}.. waiting {status.lag_seconds:.0f}s (limit {limit:g}s)"
            )
        else:
            results[f"projection:{status.name}"] = "ok"
    return results


class FollowerCollector:
    """Each follower's position, lag and state, read at scrape time."""

    def collect(self):
        position = GaugeMetricFamily("shop_projection_position", "Last event applied.", labels=["follower"])
        head = GaugeMetricFamily("shop_event_log_head", "Position of the newest event in the log.")
        lag_events = GaugeMetricFamily("shop_projection_lag_events", "Events not yet applied.", labels=["follower"])
        lag_seconds = GaugeMetricFamily(
            "shop_projection_lag_seconds", "Age of the oldest event not yet applied.", labels=["follower"]
        )
        failed = GaugeMetricFamily("shop_projection_failed", "1 while the follower is failed.", labels=["follower"])
        statuses = follower_statuses()
        for status in statuses:
            position.add_metric([status.name], status.position)
            lag_events.add_metric([status.name], status.lag_events)
            lag_seconds.add_metric([status.name], status.lag_seconds)
            failed.add_metric([status.name], 1 if status.state == "failed" else 0)
        head.add_metric([], statuses[0].head if statuses else 0)
        yield from (position, head, lag_events, lag_seconds, failed)


FOLLOWER_COLLECTOR = FollowerCollector()

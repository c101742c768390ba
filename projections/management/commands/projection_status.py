from django.core.management.base import BaseCommand

from projections.monitoring import latest_rebuilds
from projections.status import follower_statuses


class Command(BaseCommand):
    help = (
        "Show every follower (projection, subscriber, process manager): position, head, lag in events and "
        "seconds, state, version (v1->v2 while a new version is rebuilt), the latest rebuild's progress, last error."
    )

    def handle(self, *args, **options):
        statuses = follower_statuses()
        runs = latest_rebuilds([status.name for status in statuses])
        header = (
            f"{'name':<18} {'kind':<15} {'position':>10} {'head':>10} {'lag':>8} {'lag s':>8}  {'state':<10} "
            f"{'version':<8} {'rebuild':<16} error"
        )
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for status in statuses:
            version = f"v{status.version}->v{status.code_version}" if status.upgrading else f"v{status.version}"
            run = runs.get(status.name)
            rebuild = f"{run.state} {run.percent}%" if run else ""
            line = (
                f"{status.name:<18} {status.kind:<15} {status.position:>10} {status.head:>10} "
                f"{status.lag_events:>8} {status.lag_seconds:>8.1f}  {status.state:<10} {version:<8} {rebuild:<16} "
            )
            if status.failed_position is not None:
                line += f"at #{status.failed_position}: "
            line += status.last_error
            style = self.style.ERROR if status.state == "failed" else (lambda text: text)
            self.stdout.write(style(line))

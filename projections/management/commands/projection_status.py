from django.core.management.base import BaseCommand

from projections.status import follower_statuses


class Command(BaseCommand):
    help = "Show every follower (projection, subscriber, process manager): position, head, lag, state, last error."

    def handle(self, *args, **options):
        header = f"{'name':<18} {'kind':<15} {'position':>10} {'head':>10} {'lag':>8} {'lag s':>8}  {'state':<10} error"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for status in follower_statuses():
            line = (
                f"{status.name:<18} {status.kind:<15} {status.position:>10} {status.head:>10} "
                f"{status.lag_events:>8} {status.lag_seconds:>8.1f}  {status.state:<10} "
            )
            if status.failed_position is not None:
                line += f"at #{status.failed_position}: "
            line += status.last_error
            style = self.style.ERROR if status.state == "failed" else (lambda text: text)
            self.stdout.write(style(line))

import time

from django.core.management.base import BaseCommand, CommandError

from projections.management.commands._names import REBUILD_BATCH_SIZE_HELP, chosen_projections, positive_batch_size
from projections.rebuild import RebuildRefused, rebuild_together, start_subscribers_at_head


class Command(BaseCommand):
    help = (
        "Rebuild read models from the whole event log. Readers keep the old rows until the new "
        "ones are complete; live projection resumes at the head. Subscribers are never replayed."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Projections to rebuild.")
        parser.add_argument("--all", action="store_true", help="Rebuild every projection.")
        parser.add_argument("--batch-size", type=positive_batch_size, default=None, help=REBUILD_BATCH_SIZE_HELP)
        parser.add_argument(
            "--force", action="store_true", help="Take over a rebuild that was interrupted and left behind."
        )
        parser.add_argument(
            "--subscribers-from-head",
            action="store_true",
            help="After losing the read database: start subscribers that have no checkpoint at the head of the log, "
            "so that no e-mail of the shop's history is sent again (run it before starting workers).",
        )

    def handle(self, *args, names, batch_size, force, subscribers_from_head, **options):
        if subscribers_from_head:
            for name, position in start_subscribers_at_head().items():
                self.stdout.write(f"{name}: starts at #{position}, the head of the log")
        projections = chosen_projections(names, everything=options["all"])
        started = time.monotonic()
        label = projections[0].name if len(projections) == 1 else f"{len(projections)} projections"
        try:
            # One pass over the log for all of them: each event is read and decoded once.
            results = rebuild_together(
                projections, batch_size=batch_size, force=force, progress=self._progress(label, started)
            )
        except RebuildRefused as refused:
            raise CommandError(str(refused)) from None
        if self.stdout.isatty():
            self.stdout.write("")  # end the progress bar's line
        for result in results:
            rate = result.events / result.seconds if result.seconds else 0
            self.stdout.write(
                self.style.SUCCESS(
                    f"{result.name}: {result.events} events in {result.seconds:.1f}s "
                    f"({rate:,.0f} events/s), live at #{result.position}"
                )
            )

    def _progress(self, name: str, started: float):
        def show(done: int, position: int, head: int) -> None:
            if not self.stdout.isatty() and done % 50_000 and position < head:
                return  # in logs, a line every 50,000 events is plenty
            elapsed = time.monotonic() - started
            rate = done / elapsed if elapsed else 0
            share = position / head if head else 1
            remaining = (head - position) / (position / done) / rate if rate and position else 0
            bar = "#" * int(share * 30)
            line = f"{name:<18} [{bar:<30}] {done:>10,} events  {rate:>9,.0f}/s  ETA {remaining:>5.0f}s"
            # On a terminal the bar redraws in place; in a log each update is a line of its own.
            self.stdout.write(
                f"\r{line}" if self.stdout.isatty() else line, ending="" if self.stdout.isatty() else "\n"
            )
            self.stdout.flush()

        return show

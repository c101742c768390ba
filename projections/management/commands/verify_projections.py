from django.core.management.base import BaseCommand, CommandError

from projections.management.commands._names import BATCH_SIZE_HELP, chosen_projections, positive_batch_size
from projections.rebuild import verify


class Command(BaseCommand):
    help = (
        "Rebuild projections into scratch tables at the live checkpoint and compare row by row. "
        "Prints the differences and exits non-zero on any drift. Without names, checks them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Projections to verify (default: all).")
        parser.add_argument("--batch-size", type=positive_batch_size, default=None, help=BATCH_SIZE_HELP)

    def handle(self, *args, names, batch_size, **options):
        drifted = []
        for projection in chosen_projections(names, everything=not names):
            drift = verify(projection, batch_size=batch_size)
            if drift.total:
                drifted.append(projection.name)
                self.stdout.write(self.style.ERROR(f"{drift.name}: {drift.total} difference(s) at #{drift.position}"))
                for difference in drift.differences:
                    self.stdout.write(f"  {difference}")
                if drift.total > len(drift.differences):
                    self.stdout.write(f"  ... and {drift.total - len(drift.differences)} more")
            else:
                self.stdout.write(
                    self.style.SUCCESS(f"{drift.name}: {drift.rows_compared} rows match a rebuild at #{drift.position}")
                )
        if drifted:
            raise CommandError(f"Drift found in {', '.join(drifted)}.")

import getpass

from django.core.management.base import BaseCommand, CommandError

from projections.operations import OperationRefused, skip_failed_event


class Command(BaseCommand):
    help = "Move a failed projection or subscriber past the event it failed on; the skip is recorded."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("position", type=int, help="The position it failed at (see projection_status).")
        parser.add_argument("--by", default=None, help="Who is skipping it (default: the OS user).")

    def handle(self, *args, name, position, by, **options):
        try:
            skipped = skip_failed_event(name, position=position, skipped_by=by or getpass.getuser())
        except OperationRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(self.style.WARNING(f"{name} skipped {skipped.event_type} #{position}; it is live again."))

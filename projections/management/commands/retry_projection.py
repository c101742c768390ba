from django.core.management.base import BaseCommand, CommandError

from projections.operations import OperationRefused, retry


class Command(BaseCommand):
    help = "Set a failed projection or subscriber live again (after fixing the cause); it resumes at its checkpoint."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            checkpoint = retry(name)
        except OperationRefused as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(self.style.SUCCESS(f"{name} is live again from #{checkpoint.position}."))

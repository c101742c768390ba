from django.core.management.base import BaseCommand

from projections.process_managers.payment_timeout import fire_due_deadlines


class Command(BaseCommand):
    help = "Cancel the orders whose payment deadline has passed (what beat does every 5 s; for the embedded default)."

    def handle(self, *args, **options):
        cancelled = fire_due_deadlines()
        self.stdout.write(f"{cancelled} order(s) cancelled for want of payment.")

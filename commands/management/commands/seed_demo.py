"""manage.py seed_demo: parses the options and draws the progress bar; commands.demo does the work."""

import logging
from argparse import ArgumentTypeError
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from commands.demo import DemoData, DemoError, seed_demo
from commands.models import OrderStatus, Product

SITE = "http://127.0.0.1:8000"
BAR_WIDTH = 30


def count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ArgumentTypeError("must be 0 or more")
    return number


@contextmanager
def quiet_logging(verbosity: int):
    """Below -v 2, keep INFO logs (eager projections log every batch) from breaking up the progress bar."""
    if verbosity >= 2:
        yield
        return
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


class Command(BaseCommand):
    help = (
        "Fill the shop with demo products, customers and orders, all made through the command handlers. "
        "Running it again adds more."
    )

    def add_arguments(self, parser):
        parser.add_argument("--products", type=count, default=40, help="Products to register (default 40).")
        parser.add_argument("--customers", type=count, default=20, help="Customers to register (default 20).")
        parser.add_argument("--orders", type=count, default=120, help="Orders to place (default 120).")
        parser.add_argument(
            "--days",
            type=count,
            default=0,
            help=(
                "Spread the orders over the last DAYS days, each command recorded at its moment in that "
                "history (default 0: everything happens now). Needs an event log with nothing newer than "
                "the history's start, such as an empty one."
            ),
        )
        parser.add_argument("--seed", type=int, help="Random seed: the same seed makes the same data.")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the catalog already has products.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Seed even with DEBUG off (the demo admin's password is published).",
        )

    def handle(self, *args, products, customers, orders, days, seed, if_empty, force, verbosity, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this may be production, and seed_demo makes a superuser whose password "
                "is in the README. Pass --force to seed anyway."
            )
        if if_empty and (existing := Product.objects.count()):
            self.stdout.write(f"The catalog already has {existing} products: not seeding (make seed adds more).")
            self.stdout.write(f"Sign in at {SITE}/admin/")
            return
        try:
            with quiet_logging(verbosity):
                data = seed_demo(
                    products=products,
                    customers=customers,
                    orders=orders,
                    days=days,
                    seed=seed,
                    progress=self.progress_bar() if verbosity else None,
                )
        except DemoError as error:
            raise CommandError(str(error)) from error
        self.report(data)

    def progress_bar(self):
        """Return a progress callback that redraws one line per phase, only when the bar changes."""
        drawn = {}

        def progress(what: str, done: int, total: int) -> None:
            if not total:
                return
            filled = BAR_WIDTH * done // total
            if drawn.get(what) == filled and done != total:
                return
            drawn[what] = filled
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stdout.write(f"\r[{bar}] {done}/{total} {what}", ending="\n" if done == total else "")
            self.stdout.flush()

        return progress

    def report(self, data: DemoData) -> None:
        statuses = ", ".join(
            f"{status} {data.order_statuses[status]}" for status in OrderStatus if data.order_statuses[status]
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Made {len(data.product_ids)} products, {len(data.customer_ids)} customers and "
                f"{len(data.order_ids)} orders ({statuses or 'none'}) with {data.commands} commands."
            )
        )
        self.stdout.write(f"Seed {data.seed}: pass --seed {data.seed} to make the same data again.\n")
        admin = data.admin
        password = admin.password or "(its own password: this user existed already)"
        self.stdout.write(f"Sign in at {SITE}/admin/")
        self.stdout.write(f"  staff:     {admin.user.get_username()} / {password}")
        if data.customer_usernames:
            shown = ", ".join(data.customer_usernames[:3])
            more = f", ... ({len(data.customer_usernames)} in all)" if len(data.customer_usernames) > 3 else ""
            self.stdout.write(f"  customers: {shown}{more} / {data.customer_password}")
        self.stdout.write(f"API: {SITE}/api/docs/ (OpenAPI schema at {SITE}/api/schema/)")
        self.stdout.write(f"  token:     POST {SITE}/api/auth/token/ with username and password")
        self.stdout.write(f"  commands:  {SITE}/api/commands/...  queries: {SITE}/api/queries/...")

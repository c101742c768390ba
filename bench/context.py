"""What the benchmarks of one run share: sizes, services, databases, and the data they build in stages.

Data is built once and reused: a small shop for the command benchmarks (1, 2), then,
after a reset, the generated history: 200,000 events for projection throughput (3),
grown to 1,000,000 for rebuild (4), query latency (6) and lag under load (5).
"""

from __future__ import annotations

import argparse
import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bench.environment import Databases
from bench.history import History
from tests.processes import Services

WRITE_TABLE_PREFIXES = (
    "commands_",
    "bench_",
    "authtoken_",
    "auth_user",
    "django_admin_log",
    "django_session",
)
READ_TABLE_PREFIXES = ("queries_", "projections_")
BENCH_PASSWORD = "!"  # unusable: the benchmarks authenticate with tokens


@dataclass(frozen=True)
class Sizes:
    projection_events: int = 200_000
    total_events: int = 1_000_000
    naive_events: int = 3_000
    http_seconds: float = 15.0
    http_rounds: int = 6
    http_threads: int = 6  # the Python client's threads (benchmark 7)
    http_connections: int = 6  # wrk's connections at saturation (benchmarks 1 and 9)
    http_warm_up_seconds: int = 2  # per contender, before the rounds (1, 9)
    profile_seconds: int = 5  # of load under py-spy after the rounds (1, 9)
    append_seconds: float = 4.0
    lag_seconds: float = 30.0
    lag_rate: float = 100.0
    stream_warm_up_seconds: float = 3.0  # of paced commands before benchmark 8's timed ones, not counted
    query_samples: int = 200
    query_seconds: float = 8.0

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            projection_events=20_000,
            total_events=60_000,
            naive_events=500,
            http_seconds=3.0,
            http_rounds=2,
            http_warm_up_seconds=1,
            profile_seconds=1,
            append_seconds=1.0,
            lag_seconds=5.0,
            stream_warm_up_seconds=1.0,
            query_samples=30,
            query_seconds=3.0,
        )


@dataclass
class SmallShop:
    """The data of the command benchmarks: a staff user, customers with tokens, products in stock."""

    staff: object
    customers: list  # [(user, customer, token key)]
    products: list  # [Product]


@dataclass
class Run:
    args: argparse.Namespace
    sizes: Sizes
    databases: Databases
    services: Services
    env: dict[str, str]
    log_dir: Path
    redis_url: str
    history: History | None = None
    small_shop: SmallShop | None = None
    write_model_written: bool = False
    read_models_built: bool = False
    notes: list[str] = field(default_factory=list)

    # --- Stage A: a small shop --------------------------------------------------------------

    def shop(self) -> SmallShop:
        if self.small_shop is None:
            self.small_shop = _seed_small_shop()
        return self.small_shop

    # --- Stage B: the generated history -----------------------------------------------------

    def events(self, count: int) -> History:
        """Make sure the event log holds `count` generated events (resetting the small shop first)."""
        if self.history is None:
            self.reset()
            self.history = History(self.databases.url(self.databases.write), total_events=self.sizes.total_events)
        missing = count - self.history.events_written
        if missing > 0:
            seconds = self.history.append_events(missing)
            self.notes.append(f"generated {missing:,} events in {seconds:.0f} s ({missing / seconds:,.0f}/s)")
        return self.history

    def write_model(self) -> History:
        """Make sure the write model matches the whole generated history."""
        history = self.events(self.sizes.total_events)
        if not self.write_model_written:
            seconds = history.write_model()
            self.write_model_written = True
            self.notes.append(f"wrote the write model of {history.events_written:,} events in {seconds:.0f} s")
        return history

    def read_models(self) -> None:
        """Make sure every projection has caught up with the whole history (unmeasured, if 4 did not run)."""
        from projections.registry import replayable_projections
        from projections.runner import catch_up

        if not self.write_model_written:
            self.write_model()
        if not self.read_models_built:
            started = time.monotonic()
            for projection in replayable_projections().values():
                catch_up(projection, batch_size=2_000)
            self.read_models_built = True
            self.notes.append(f"caught the read models up without measuring, in {time.monotonic() - started:.0f} s")

    def reuse_history(self) -> None:
        """Take the kept databases' history as built (--reuse-history): read_models() only catches up."""
        from commands.eventlog import head_position

        head = head_position()
        if head < self.sizes.total_events:
            raise RuntimeError(f"--reuse-history: the kept log holds {head:,} events, not {self.sizes.total_events:,}")
        self.write_model_written = True
        self.notes.append(f"reused a kept history of {head:,} events (--reuse-history)")

    def reset(self) -> None:
        """Empty every table the benchmarks write, on both databases, and flush the private Redis."""
        from django.db import connections

        for alias, prefixes in (("default", WRITE_TABLE_PREFIXES), ("read", READ_TABLE_PREFIXES)):
            connection = connections[alias]
            tables = [name for name in connection.introspection.table_names() if name.startswith(prefixes)]
            with connection.cursor() as cursor:
                cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
        self.flush_redis()
        self.small_shop = None

    def flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url).flushall()


def _seed_small_shop(customers: int = 32, products: int = 1_000) -> SmallShop:
    """Users and tokens in bulk; customers and products through their commands, so the log has their events.

    The read models start from those events: a product the catalog never heard of would stop
    the catalog projection at the first order that names it.
    """
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from commands.commands import MAX_STOCK, RegisterCustomer, RegisterProduct
    from commands.handlers import dispatch
    from commands.models import Customer, Product

    staff = User.objects.create(username="bench-staff", is_staff=True, password=BENCH_PASSWORD)
    users = User.objects.bulk_create(
        User(username=f"bench-customer-{n}", email=f"bench{n}@example.com", password=BENCH_PASSWORD)
        for n in range(customers)
    )
    for n, user in enumerate(users):
        dispatch(RegisterCustomer(user_id=user.pk, name=f"Bench Customer {n}", email=user.email), user)
    rows = list(Customer.objects.filter(user__in=users).order_by("user_id"))
    tokens = Token.objects.bulk_create(Token(user=user, key=secrets.token_hex(20)) for user in [staff, *users])
    registered = [
        dispatch(
            RegisterProduct(
                sku=f"BENCH-{n:05d}",
                name=f"Bench product {n}",
                category="bench",
                price=Decimal(100 + n % 900) / 10,
                stock=MAX_STOCK,
            ),
            staff,
        ).aggregate_id
        for n in range(products)
    ]
    stock = list(Product.objects.filter(pk__in=registered).order_by("sku"))
    staff.bench_token = tokens[0].key
    return SmallShop(
        staff=staff,
        customers=[(user, customer, token.key) for user, customer, token in zip(users, rows, tokens[1:], strict=True)],
        products=stock,
    )

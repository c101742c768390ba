"""Every follower of the event log, by name.

This is the one module that knows the concrete projections, subscribers and
process managers; `base` stays abstract, so the followers can import it without
an import circle. PROJECTION_FOLLOWERS (dotted class paths) replaces the list:
a deploy test brings in a projection's next version that way.

A follower is what has a checkpoint: a subscriber, or one partition of a
projection (PROJECTION_PARTITIONS; a projection in one partition is its own
follower, under its own name). Rebuilds, verification, versions and past
states work on whole projections (replayable_projections).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from projections.base import Partition, Projection, Subscriber

MAX_PARTITIONS = 64

# Projections first, then subscribers and process managers.
FOLLOWERS = [
    "projections.catalog.ProductCatalogProjection",
    "projections.orders.OrderSummaryProjection",
    "projections.customers.CustomerOrderHistoryProjection",
    "projections.sales.DailySalesProjection",
    "projections.subscribers.notifications.Notifier",
    "projections.subscribers.cache.CacheInvalidator",
    "projections.process_managers.payment_timeout.PaymentTimeout",
    "projections.process_managers.low_stock.LowStockAlert",
]


@functools.cache
def _instances() -> tuple[Projection | Subscriber, ...]:
    paths = getattr(settings, "PROJECTION_FOLLOWERS", None) or FOLLOWERS
    return tuple(import_string(path)() for path in paths)


@functools.cache
def registry() -> dict[str, Projection | Subscriber]:
    """Every follower by its checkpoint's name, in FOLLOWERS' order: each projection's partitions, then subscribers."""
    followers: dict[str, Projection | Subscriber] = {}
    for follower in _instances():
        for part in _partitions(follower) if follower.replayable else [follower]:
            followers[part.name] = part
    return followers


def replayable_projections() -> dict[str, Projection]:
    """The replayable projections (the read models), whole, by name."""
    return {follower.name: follower for follower in _instances() if follower.replayable}


def partitions_of(projection_name: str) -> list[Projection]:
    """The followers that together build projection `projection_name`'s read model (one unless it is partitioned)."""
    return [
        follower
        for follower in registry().values()
        if follower.replayable and follower.projection_name == projection_name
    ]


def checkpoint_names(names: Iterable[str]) -> list[str]:
    """The checkpoints behind `names`: each projection's partitions (a read model is as far as its slowest one)."""
    whole = replayable_projections()
    return [
        checkpoint
        for name in names
        for checkpoint in ([part.name for part in partitions_of(name)] if name in whole else [name])
    ]


def lane(partition: Partition) -> list[Projection]:
    """The partitions one runner takes along in one pass over the log: partition `partition.index` of each projection.

    A worker catching up partition 2 of the catalog moves partition 2 of every
    other projection too, so N workers share the read models N ways, each
    reading the log once.
    """
    return [
        follower
        for follower in registry().values()
        if follower.replayable and follower.partition.index == partition.index
    ]


def _partitions(projection: Projection) -> list[Projection]:
    count = partition_count(projection.name)
    return [projection.partitioned(Partition(index, count)) for index in range(1, count + 1)]


def partition_count(projection_name: str) -> int:
    """How many partitions PROJECTION_PARTITIONS gives the projection (1 unless it says otherwise)."""
    counts = settings.PROJECTION_PARTITIONS
    unknown = set(counts) - {follower.name for follower in _instances() if follower.replayable}
    if unknown:
        raise ImproperlyConfigured(f"PROJECTION_PARTITIONS names no projection: {', '.join(sorted(unknown))}")
    count = counts.get(projection_name, 1)
    if isinstance(count, str) and count.isascii() and count.isdecimal():
        count = int(count)  # from the environment, "product_catalog=2,order_summary=2"
    if not isinstance(count, int) or not 1 <= count <= MAX_PARTITIONS:
        raise ImproperlyConfigured(
            f"PROJECTION_PARTITIONS: {projection_name} takes 1 to {MAX_PARTITIONS} partitions, not {count!r}"
        )
    return count


@receiver(setting_changed)
def _forget_followers(setting: str, **kwargs) -> None:
    # Tests (and deploy drills) change the followers or their partitions with override_settings.
    if setting in ("PROJECTION_FOLLOWERS", "PROJECTION_PARTITIONS"):
        _instances.cache_clear()
        registry.cache_clear()

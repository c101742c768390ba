"""Invalidates cached query responses that an event makes stale.

Runs after its checkpoint's transaction commits; if the cache is unreachable
the entries expire by themselves, so a failure is logged, not raised.
"""

from commands.eventlog import RecordedEvent
from commands.events import (
    CustomerRegistered,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRegistered,
    ProductRestocked,
)
from projections.base import Subscriber
from queries.caching import invalidate

STALE_FAMILIES: dict[str, frozenset[str]] = {
    ProductRegistered.type_name(): frozenset({"products"}),
    ProductPriceChanged.type_name(): frozenset({"products"}),
    ProductRestocked.type_name(): frozenset({"products"}),
    ProductDiscontinued.type_name(): frozenset({"products"}),
    CustomerRegistered.type_name(): frozenset({"customers"}),
    OrderPlaced.type_name(): frozenset({"orders", "customers", "sales", "products"}),
    OrderPaid.type_name(): frozenset({"orders", "customers"}),
    OrderShipped.type_name(): frozenset({"orders"}),
    OrderCancelled.type_name(): frozenset({"orders", "customers", "sales", "products"}),
}


class CacheInvalidator(Subscriber):
    name = "cache"
    queue = "cache"
    event_types = sorted(STALE_FAMILIES)

    def handle(self, batch: list[RecordedEvent]) -> frozenset[str]:
        return frozenset().union(*(STALE_FAMILIES.get(recorded.type, ()) for recorded in batch))

    def after_commit(self, handled: frozenset[str]) -> None:
        invalidate(handled)

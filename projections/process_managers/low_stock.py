"""Low-stock alert: catalog managers get one e-mail each time a product's stock falls below LOW_STOCK_THRESHOLD.

The manager follows each product's available stock through its events
(registered, restocked, reserved by orders, released by cancellations) in a
StockLevel row. A fall below the threshold sets the row's `alerted` flag and
owes the e-mail; while the flag is set, further orders owe nothing; a restock
or cancellation that lifts the stock back to the threshold clears it. Rows and
e-mails are written in the checkpoint's transaction and sent after commit, as
the notifications subscriber does: once per crossing, never on a re-run.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model

from commands.eventlog import RecordedEvent
from commands.events import OrderCancelled, OrderPlaced, ProductRegistered, ProductRestocked
from core.routers import READ_PRIMARY, WRITE_DATABASE
from projections.base import ProcessManager
from projections.models import OutgoingEmail, StockLevel
from projections.subscribers.notifications import send_pending_emails

CATALOG_PERMISSION = "commands.manage_catalog"


@dataclass(frozen=True)
class Crossing:
    """A product whose stock fell below the threshold at the event at `position`."""

    position: int
    sku: str
    name: str
    stock: int


class LowStockAlert(ProcessManager):
    name = "low_stock"
    queue = "notifications"
    event_types = sorted(cls.type_name() for cls in (ProductRegistered, ProductRestocked, OrderPlaced, OrderCancelled))

    def handle(self, batch: list[RecordedEvent]) -> None:
        """Follow the stock of the products in `batch`, and owe an e-mail for every fall below the threshold."""
        relevant = [recorded for recorded in batch if recorded.type in self.event_types]
        if not relevant:
            return
        levels = StockLevel.objects.using(READ_PRIMARY).in_bulk({key for r in relevant for key in _products(r.event)})
        crossings = [crossing for recorded in relevant for crossing in _follow(recorded, levels)]
        StockLevel.objects.using(READ_PRIMARY).bulk_create(
            levels.values(),
            update_conflicts=True,
            unique_fields=["product_id"],
            update_fields=["sku", "name", "stock", "alerted"],
        )
        if crossings:
            OutgoingEmail.objects.using(READ_PRIMARY).bulk_create(_alerts(crossings), ignore_conflicts=True)

    def after_commit(self, handled: None) -> None:
        send_pending_emails()


def _products(event) -> list:
    if isinstance(event, OrderPlaced | OrderCancelled):
        return [line.product_id for line in event.lines]
    return [event.product_id]


def _follow(recorded: RecordedEvent, levels: dict) -> list[Crossing]:
    """Apply one event to the stock levels in `levels`; return the products it took below the threshold."""
    threshold = settings.LOW_STOCK_THRESHOLD
    event = recorded.event
    if isinstance(event, ProductRegistered):
        # Registered with little stock is not a fall: no e-mail until it has been at the threshold.
        levels[event.product_id] = StockLevel(
            product_id=event.product_id,
            sku=event.sku,
            name=event.name,
            stock=event.stock,
            alerted=event.stock < threshold,
        )
        return []
    if isinstance(event, ProductRestocked):
        changes = (
            [(event.product_id, event.stock - levels[event.product_id].stock)] if event.product_id in levels else []
        )
    else:
        sign = -1 if isinstance(event, OrderPlaced) else 1
        changes = [(line.product_id, sign * line.quantity) for line in event.lines]
    crossings = []
    for product_id, change in changes:
        level = levels.get(product_id)
        if level is None:  # its registration was skipped by an operator: nothing known to compare with
            continue
        level.stock += change
        if level.stock >= threshold:
            level.alerted = False
        elif not level.alerted:
            level.alerted = True
            crossings.append(Crossing(recorded.position, level.sku, level.name, level.stock))
    return crossings


def catalog_managers() -> list:
    """The active users given the catalog manager's permission (directly or through a group), with an e-mail."""
    users = get_user_model().objects.db_manager(WRITE_DATABASE)
    return list(users.with_perm(CATALOG_PERMISSION, include_superusers=False).exclude(email="").order_by("pk"))


def _alerts(crossings: list[Crossing]) -> list[OutgoingEmail]:
    """One e-mail per catalog manager per event that took products below the threshold."""
    by_event: dict[int, list[Crossing]] = {}
    for crossing in crossings:
        by_event.setdefault(crossing.position, []).append(crossing)
    threshold = settings.LOW_STOCK_THRESHOLD
    emails = []
    for manager in catalog_managers():
        for position, fallen in by_event.items():
            lines = "\n".join(f"  {c.sku} {c.name}: {c.stock} left" for c in fallen)
            emails.append(
                OutgoingEmail(
                    position=position,
                    # One per event and recipient: the kind carries the recipient, so the unique
                    # (position, kind) keeps each manager's alert to one however often it is followed.
                    kind=f"low_stock:{manager.pk}",
                    recipient=manager.email,
                    subject=f"Low stock: {', '.join(c.sku for c in fallen)}"[:200],
                    body=f"The stock of these products fell below {threshold}:\n{lines}\n\nRestock them soon.\n",
                )
            )
    return emails

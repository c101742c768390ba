"""What the checks need from the databases and the mail folder, read once the run is over (and the catch-up timer).

Reads the write database, the read primary and the sent mail directly, never through the
run's proxy: the soak's own Django settings point at them.
"""

from __future__ import annotations

from email import message_from_string
from pathlib import Path

from soak.checks import Email, LoggedEvent

# The e-mail each event owes its order's customer: its kind (projections.subscribers.notifications) and subject.
OWED = {
    "OrderPlaced": ("order_confirmation", "Your order {order} is confirmed"),
    "OrderShipped": ("dispatch_notice", "Your order {order} is on its way"),
    "OrderCancelled": ("cancellation_notice", "Your order {order} is cancelled"),
}


def logged_events() -> list[LoggedEvent]:
    from commands.models import StoredEvent

    rows = StoredEvent.objects.order_by("position").values_list("position", "type", "metadata", "data")
    return [
        LoggedEvent(position, type_, str(metadata.get("correlation_id", "")), data)
        for position, type_, metadata, data in rows.iterator()
    ]


def head() -> int:
    from commands.eventlog import head_position

    return head_position()


def followers_at(position: int) -> bool:
    """Whether every follower (projections, subscribers, process managers) has applied the log up to `position`."""
    from core.routers import READ_PRIMARY
    from projections.models import Checkpoint
    from projections.registry import registry

    reached = dict(Checkpoint.objects.using(READ_PRIMARY).values_list("name", "position"))
    return all(reached.get(name, -1) >= position for name in registry()) if position else True


def final_stock() -> dict[str, int]:
    """Each product's stock in the write model and in the catalog read model (two entries a product)."""
    from commands.models import Product
    from queries.models import ProductCatalog

    stock = {f"{pk} (write model)": value for pk, value in Product.objects.values_list("pk", "stock")}
    catalog = ProductCatalog.objects.using("read").values_list("pk", "stock_available")
    stock.update({f"{pk} (catalog)": value for pk, value in catalog})
    return stock


def units_sold() -> dict[str, int]:
    from queries.models import ProductCatalog

    return {str(pk): sold for pk, sold in ProductCatalog.objects.using("read").values_list("pk", "units_sold")}


def emails_owed(events: list[LoggedEvent]) -> list[Email]:
    """Every e-mail the log owes a customer, one per order placed, shipped or cancelled: its Message-ID and subject."""
    from projections.subscribers.notifications import message_id

    owed = []
    for event in events:
        if event.type in OWED:
            kind, subject = OWED[event.type]
            owed.append(Email(message_id(kind, event.position), subject.format(order=str(event.data["order_id"])[:8])))
    return owed


def emails_sent(mail_dir: Path) -> list[Email]:
    """The Message-ID and subject of every message Django's file-based e-mail backend wrote to `mail_dir`."""
    emails = []
    for path in sorted(mail_dir.glob("*.log")) if mail_dir.exists() else []:
        # The backend appends each message to its file followed by a line of 79 dashes.
        for text in path.read_text().split("\n" + "-" * 79 + "\n"):
            if text.strip():
                message = message_from_string(text)
                emails.append(Email(str(message["Message-ID"]).strip(), message["Subject"]))
    return emails


def outbox_not_sent() -> dict[str, int]:
    """E-mails in the outbox that are not sent, by state (pending, sending, failed)."""
    from django.db.models import Count

    from projections.models import OutgoingEmail

    rows = OutgoingEmail.objects.using("read").exclude(state=OutgoingEmail.State.SENT).values("state")
    return {row["state"]: row["n"] for row in rows.annotate(n=Count("pk"))}


def drift() -> dict[str, int]:
    """verify_projections: the rows each read model has that differ from a rebuild."""
    from projections.rebuild import verify
    from projections.registry import replayable_projections

    return {name: verify(projection).total for name, projection in replayable_projections().items()}

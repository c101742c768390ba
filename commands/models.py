"""The write database's tables: the aggregates, the event log and idempotency records."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from commands.domain.customers import Customer
from commands.domain.orders import Order, OrderLine, OrderStatus
from commands.domain.products import Product

__all__ = [
    "Customer",
    "IdempotencyRecord",
    "OperatorAction",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "StoredEvent",
]


class StoredEvent(models.Model):
    """One event in the log. Rows are only ever inserted, by commands.eventlog.append."""

    # Strictly increasing and never reused; gaps appear where a transaction rolled back.
    position = models.BigAutoField(primary_key=True)
    stream_id = models.UUIDField()
    version = models.PositiveIntegerField()
    type = models.CharField(max_length=100)
    schema_version = models.PositiveSmallIntegerField(default=1)
    data = models.JSONField()
    metadata = models.JSONField(default=dict)
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["stream_id", "version"], name="one_event_per_stream_version"),
        ]
        indexes = [models.Index(fields=["type", "position"]), models.Index(fields=["recorded_at"])]

    def __str__(self) -> str:
        return f"#{self.position} {self.type} {self.stream_id} v{self.version}"


class IdempotencyRecord(models.Model):
    """The first successful response to a command sent with an Idempotency-Key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_response_per_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status_code})"


class OperatorAction(models.Model):
    """What an operator did in the admin, when, and how it ended: the audit log. Rows are only ever inserted.

    It lives here, on `default`, rather than on `read`: the read databases hold
    what can be rebuilt from the event log, and an audit trail cannot be; on
    `default` it is kept and backed up with the event log, it can point at the
    operator's user row, and an admin command's audit row commits in the same
    transaction as the command's events (commands.audit).
    """

    class Outcome(models.TextChoices):
        DONE = "done"
        REQUESTED = "requested"  # handed to a worker (a rebuild): its progress is shown on the dashboard
        REFUSED = "refused"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150)  # kept when the user is deleted
    action = models.CharField(max_length=64)  # cancel_order, restock_product, rebuild, retry, skip_event, ...
    target = models.CharField(max_length=200)  # "order <id>", "product <id>", "projection <name>"
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.TextField(blank=True)  # the refusal's code and message, the event skipped, ...
    # The command an admin action dispatched: its events carry it in metadata["command_id"].
    command_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}: {self.outcome}"

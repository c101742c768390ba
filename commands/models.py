"""The write database's tables: the aggregates, the event log, idempotency records and the command inbox."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from commands.domain.customers import Customer
from commands.domain.orders import Order, OrderLine, OrderStatus
from commands.domain.products import Product

__all__ = [
    "Customer",
    "IdempotencyRecord",
    "InboxCommand",
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


class InboxCommand(models.Model):
    """A command accepted with `Prefer: respond-async`, waiting for or done by a worker (commands.inbox).

    The row is inserted in the request's transaction; its state leaves `accepted`
    only in the transaction that records the command's events (or its refusal),
    so a worker that dies mid-command leaves it accepted, to be run again.
    """

    class State(models.TextChoices):
        ACCEPTED = "accepted"
        SUCCEEDED = "succeeded"
        REFUSED = "refused"  # a business rule or permission said no: the body a synchronous 4xx carries
        FAILED = "failed"  # an unexpected error: staff may retry it from the admin

    # The acceptance order: commands of one ordering key run in this order.
    sequence = models.BigAutoField(primary_key=True)
    command_id = models.UUIDField(unique=True)
    type = models.CharField(max_length=100)
    payload = models.JSONField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=255, blank=True)
    # The aggregate the command acts on (a new aggregate's command: its own command id).
    ordering_key = models.UUIDField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACCEPTED)
    accepted_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)  # succeeded: {id, version, position}
    error = models.JSONField(null=True, blank=True)  # refused or failed: {code, detail, ...}
    attempts = models.PositiveIntegerField(default=0)  # runs that failed unexpectedly

    class Meta:
        ordering = ["-sequence"]
        indexes = [
            # The worker's "oldest accepted command of this aggregate" and the sweep's scan.
            models.Index(
                fields=["ordering_key", "sequence"],
                condition=models.Q(state="accepted"),
                name="accepted_by_ordering_key",
            ),
            models.Index(fields=["state", "accepted_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.command_id} ({self.state})"

"""The write database's tables: the aggregates, the event log and idempotency records."""

from django.conf import settings
from django.db import models

from commands.domain.customers import Customer
from commands.domain.orders import Order, OrderLine, OrderStatus
from commands.domain.products import Product

__all__ = ["Customer", "IdempotencyRecord", "Order", "OrderLine", "OrderStatus", "Product", "StoredEvent"]


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

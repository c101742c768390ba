"""The projection side's own tables on `read`: checkpoints, skipped events, outgoing e-mail, and what the
operator dashboard shows: rebuild runs and lag samples.

A checkpoint row and the read-model rows it covers always change in the same
transaction on `read`, which is what makes projection exactly-once.
"""

from django.db import models


class Checkpoint(models.Model):
    class State(models.TextChoices):
        LIVE = "live"
        FAILED = "failed"
        REBUILDING = "rebuilding"
        # A partition of a projection whose partition count changed: it waits for the rebuild that
        # splits the read model the new way (rebuild_projections), as do its siblings.
        AWAITING_REBUILD = "awaiting rebuild"

    name = models.CharField(max_length=64, primary_key=True)
    position = models.BigIntegerField(default=0)  # the last event applied
    state = models.CharField(max_length=16, choices=State.choices, default=State.LIVE)
    # The Projection.version whose handlers built the live rows (projections.versions upgrades it).
    version = models.PositiveIntegerField(default=1)
    # While attempts > 0 the runner goes one event at a time, so a failure names its event.
    attempts = models.PositiveSmallIntegerField(default=0)
    failed_position = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)  # the message and traceback of the last failure
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("rebuild_projection", "Can rebuild projections"),
            ("retry_projection", "Can retry a failed projection"),
            ("skip_event", "Can skip the event a projection failed on"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.position} ({self.state})"

    def clear_failure(self) -> None:
        """Forget the last failure and its attempts (the caller saves)."""
        self.attempts, self.failed_position, self.error = 0, None, ""


class SkippedEvent(models.Model):
    """An event an operator told a failed projection to pass over, and why it had failed."""

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.CASCADE, related_name="skipped_events")
    position = models.BigIntegerField()
    event_type = models.CharField(max_length=100)
    error = models.TextField()
    skipped_by = models.CharField(max_length=150)
    skipped_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-skipped_at"]
        constraints = [models.UniqueConstraint(fields=["checkpoint", "position"], name="skip_once")]

    def __str__(self) -> str:
        return f"{self.checkpoint_id} skipped #{self.position}"


class OutgoingEmail(models.Model):
    """One e-mail owed for one event: written with the checkpoint advance, sent after commit.

    State moves pending -> sending -> sent (or failed). A sender claims it
    (sending, claimed_at) for EMAIL_SENDING_LEASE_SECONDS: if it is still sending
    after that, its sender died (or stalled), and any sender may claim it again.
    So a crash mid-send sends it twice rather than losing it, both times under the
    Message-ID the row fixes, which the receiver's mail system collapses to one.
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    position = models.BigIntegerField()
    kind = models.CharField(max_length=32)  # order_confirmation, dispatch_notice
    recipient = models.EmailField()
    subject = models.CharField(max_length=200)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # When a sender last claimed it. Rows left sending before claims had a time have none, and are never
    # claimed again: they may be days old, and were lost under the at-most-once rule they were sent by.
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-position"]
        constraints = [models.UniqueConstraint(fields=["position", "kind"], name="one_email_per_event")]
        indexes = [models.Index(fields=["state", "position"], name="email_by_state")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.position} to {self.recipient} ({self.state})"


class RebuildRun(models.Model):
    """One requested rebuild of one projection, and how far it has got (written by the rebuild task)."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    name = models.CharField(max_length=64)
    requested_by = models.CharField(max_length=150, blank=True)
    # Set on the automatic blue/green rebuild to a newly deployed Projection.version; empty for an operator's.
    version = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    events_done = models.PositiveBigIntegerField(default=0)
    position = models.BigIntegerField(default=0)  # the last event replayed
    head = models.BigIntegerField(default=0)  # the head of the log when the replay started
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["name", "-requested_at"], name="rebuild_run_by_name")]

    def __str__(self) -> str:
        return f"rebuild of {self.name} ({self.state})"

    @property
    def percent(self) -> int:
        """How much of the log the replay has covered, 0 to 100."""
        if self.state == self.State.DONE:
            return 100
        return min(100, int(100 * self.position / self.head)) if self.head else 0


class LagSample(models.Model):
    """A follower's lag at one moment, taken by beat (projections.tasks.sample_lag) for the dashboard's chart."""

    taken_at = models.DateTimeField(db_index=True)
    name = models.CharField(max_length=64)
    position = models.BigIntegerField()
    lag_events = models.PositiveBigIntegerField()
    lag_seconds = models.FloatField()

    class Meta:
        ordering = ["taken_at", "name"]

    def __str__(self) -> str:
        return f"{self.name} {self.lag_events} behind at {self.taken_at:%H:%M:%S}"


# --- Process managers' state (written in their checkpoint's transaction) ------------------------------------------


class PaymentDeadline(models.Model):
    """When an order placed but not paid is cancelled (projections.process_managers.payment_timeout).

    Written when the process manager follows OrderPlaced, closed when it follows
    the order's payment, shipping or cancellation, and fired by beat once due.
    """

    class State(models.TextChoices):
        PENDING = "pending"  # waiting for payment or for the deadline
        CLOSED = "closed"  # paid, shipped or cancelled before it fell due: left alone
        FIRED = "fired"  # the order was cancelled with reason payment_timeout
        REFUSED = "refused"  # the cancellation was refused: the order had moved on in the meantime

    order_id = models.UUIDField(primary_key=True)
    position = models.BigIntegerField(unique=True)  # the OrderPlaced event; the cancellation's id derives from it
    order_version = models.PositiveIntegerField()  # the order's version when placed: any later change wins
    due_at = models.DateTimeField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    detail = models.CharField(max_length=500, blank=True)  # why a cancellation was refused
    fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        indexes = [models.Index(fields=["state", "due_at"], name="deadline_by_state")]

    def __str__(self) -> str:
        return f"payment of {self.order_id} due {self.due_at:%Y-%m-%d %H:%M:%S} ({self.state})"


class StockLevel(models.Model):
    """A product's available stock as the low-stock process manager has followed it, and whether it has warned."""

    product_id = models.UUIDField(primary_key=True)
    sku = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    stock = models.IntegerField(default=0)
    # Set when the stock fell below the threshold and the catalog managers were told; cleared when it
    # is back at or above it, so the next fall warns again: one e-mail per crossing.
    alerted = models.BooleanField(default=False)

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku}: {self.stock}{' (alerted)' if self.alerted else ''}"

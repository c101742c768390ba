"""The ledger of commands the process managers issued, on `default` with the event log.

A row is written in the same transaction as the command's events (or as its
refusal), keyed by the command id, which derives from the triggering event's
position. Whatever happens on `read` afterwards (a crash before the checkpoint
or the deadline moved, a re-run, a second worker), issuing the same command id
again finds the row and does nothing: the command's effect happens once.
"""

from django.db import models
from django.utils import timezone


class IssuedCommand(models.Model):
    class Outcome(models.TextChoices):
        RECORDED = "recorded"
        REFUSED = "refused"

    command_id = models.UUIDField(primary_key=True)
    issued_by = models.CharField(max_length=64)  # the process manager's name
    trigger_position = models.BigIntegerField()  # the event the command answers
    command = models.CharField(max_length=64)  # CancelOrder, ...
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    position = models.BigIntegerField(null=True, blank=True)  # its last event, when recorded
    refusal = models.CharField(max_length=500, blank=True)  # "code: message", when refused
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["issued_by", "trigger_position"], name="issued_by_trigger")]

    def __str__(self) -> str:
        return f"{self.command} by {self.issued_by} for event #{self.trigger_position}: {self.outcome}"

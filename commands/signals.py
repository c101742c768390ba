"""Signals the write side sends; the projection side subscribes to them."""

from django.dispatch import Signal

# Sent after the transaction commits, once for each append it made (a command
# makes one), with `events`: the list of commands.eventlog.RecordedEvent that
# append recorded, in order. Never sent for a transaction that rolled back.
events_recorded = Signal()

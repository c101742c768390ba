"""Signals the write side sends; the projection side subscribes to them."""

from django.dispatch import Signal

# Sent once per committed transaction that appended events, with
# `events`: the list of commands.eventlog.RecordedEvent it appended, in order.
# Never sent for a transaction that rolled back.
events_recorded = Signal()

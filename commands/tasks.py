"""Celery tasks of the command side, routed to the `commands` queue: thin wrappers around commands.inbox."""

import uuid

from celery import shared_task
from django.db import InterfaceError, OperationalError

from commands import inbox


@shared_task(
    acks_late=True,  # a worker that dies mid-command leaves the message to be delivered again
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=None,
)
def run_command(command_id: str) -> int:
    """Run an accepted command, and every later command of its aggregate, in acceptance order."""
    return inbox.run(uuid.UUID(command_id))


@shared_task(acks_late=True)
def sweep_accepted_commands() -> int:
    """Beat's safety net: enqueue the accepted commands whose task was lost."""
    return inbox.sweep()

"""The process managers' Celery task: beat fires the payment deadlines that fell due."""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from projections.process_managers.payment_timeout import fire_due_deadlines


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=1,
    retry_backoff_max=30,
    max_retries=5,  # beat sends another one soon anyway
)
def fire_payment_deadlines() -> int:
    """Cancel the orders whose payment deadline has passed; return how many were cancelled."""
    return fire_due_deadlines()

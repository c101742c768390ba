"""issue(command): how a process manager dispatches a command, at most once per command id.

The manager's checkpoint and state live on `read`, the command's effect on
`default`; no transaction spans both. So the command id is derived from the
triggering event's position (the same event always yields the same id), and
issue() writes a ledger row with that id in the command's own transaction on
`default`. A second issue of the id, after a crash between the two commits, a
re-run or a concurrent worker, finds the row (or waits on its primary key
until the first transaction ends) and dispatches nothing.
"""

from __future__ import annotations

import logging
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from commands.commands import Command
from commands.errors import DomainError
from commands.handlers import dispatch
from core.routers import WRITE_DATABASE
from projections.process_managers.models import IssuedCommand

logger = logging.getLogger(__name__)

# Any fixed UUID will do; changing it would re-issue every command.
COMMAND_ID_NAMESPACE = uuid.UUID("6f1f8a52-2d0b-4c8e-9f0e-3c6b1d0a7e15")

# The user process managers act as: staff, so the handlers let it act on any order, but inactive and
# without a usable password, so nobody can sign in as it. Events it causes name it in metadata["actor"].
SYSTEM_USERNAME = "process-manager"


def command_id_for(manager: str, position: int) -> uuid.UUID:
    """The id of the command `manager` issues in answer to the event at `position`: always the same."""
    return uuid.uuid5(COMMAND_ID_NAMESPACE, f"{manager}:{position}")


def system_actor():
    """The process managers' user, created the first time it is needed."""
    user, _ = (
        get_user_model()
        .objects.db_manager(WRITE_DATABASE)
        .get_or_create(
            username=SYSTEM_USERNAME,
            defaults={"is_staff": True, "is_active": False, "password": make_password(None)},
        )
    )
    return user


def issue(command: Command, *, issued_by: str, trigger_position: int) -> IssuedCommand:
    """Dispatch `command` as the system actor unless its id was issued before; return its ledger row.

    The row commits with the command's events, or with nothing else when the
    command is refused: a refusal is an outcome too, and is not retried.
    """
    ledger = IssuedCommand.objects.using(WRITE_DATABASE)
    with transaction.atomic(using=WRITE_DATABASE):
        try:
            with transaction.atomic(using=WRITE_DATABASE):
                entry = ledger.create(
                    command_id=command.command_id,
                    issued_by=issued_by,
                    trigger_position=trigger_position,
                    command=type(command).__name__,
                    outcome=IssuedCommand.Outcome.RECORDED,
                )
        except IntegrityError:
            earlier = ledger.get(command_id=command.command_id)
            logger.info("%s was issued before (%s); not again", earlier, earlier.command_id)
            return earlier
        try:
            recorded = dispatch(command, system_actor())
        except DomainError as refused:
            entry.outcome, entry.refusal = IssuedCommand.Outcome.REFUSED, f"{refused.code}: {refused.message}"[:500]
        else:
            entry.position = recorded.position
        entry.save(update_fields=["outcome", "refusal", "position"])
    return entry

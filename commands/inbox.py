"""The command inbox: asynchronous commands accepted now (a row in the request's transaction), run later.

Exactly once: a worker claims an accepted row with SELECT … FOR UPDATE SKIP
LOCKED and dispatches its command in that same transaction, which also moves
the row to succeeded or refused. The events and the row's new state commit
together; a worker killed mid-command commits neither, and the row, still
accepted, is run again by the redelivered task or by beat's sweep. A second
run of a finished command finds no accepted row and does nothing.

In order per aggregate: commands share an ordering key (the aggregate they act
on) and a worker only ever runs the oldest accepted command of its key, then the
next, until none is left. While an older one is claimed by another worker, the
younger waits: that worker goes on with it when it is done.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import typing
import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from commands import commands as command_types
from commands.commands import Command
from commands.errors import DomainError, Forbidden
from commands.handlers import HANDLERS, Recorded, dispatch
from commands.models import InboxCommand
from core.routers import WRITE_DATABASE

logger = logging.getLogger(__name__)

State = InboxCommand.State
DATABASE_ERRORS = (OperationalError, InterfaceError)
COMMAND_TYPES = {command_type.__name__: command_type for command_type in HANDLERS}

# The handlers' checks that need nothing but the actor, made again at acceptance so
# that a caller who may not run the command gets its 403 at once, not from the status.
CATALOG_COMMANDS = (
    command_types.RegisterProduct,
    command_types.ChangePrice,
    command_types.RestockProduct,
    command_types.DiscontinueProduct,
)


# --- Accepting --------------------------------------------------------------


def authorize(command: Command, actor: AbstractBaseUser) -> None:
    """Raise Forbidden if `actor` may never run `command`, whatever the data (the handler checks the rest)."""
    if isinstance(command, CATALOG_COMMANDS) and not (actor.is_staff or actor.has_perm("commands.manage_catalog")):
        raise Forbidden("Only staff and catalog managers change the catalog.")
    if isinstance(command, command_types.ShipOrder) and not actor.is_staff:
        raise Forbidden("Only staff ship orders.")


def accept(command: Command, actor: AbstractBaseUser, *, idempotency_key: str = "") -> InboxCommand:
    """Store `command` in the inbox (in the caller's transaction) and have a worker run it after commit."""
    authorize(command, actor)
    with transaction.atomic(using=WRITE_DATABASE):
        accepted = InboxCommand.objects.using(WRITE_DATABASE).create(
            command_id=command.command_id,
            type=type(command).__name__,
            payload=encode(command),
            actor=actor,
            idempotency_key=idempotency_key,
            ordering_key=ordering_key(command),
        )
        transaction.on_commit(lambda: enqueue(accepted.command_id), using=WRITE_DATABASE)
    return accepted


def ordering_key(command: Command) -> uuid.UUID:
    """The aggregate the command acts on; a command that creates one is ordered by nothing but itself."""
    for field in ("order_id", "product_id"):
        if hasattr(command, field):
            return getattr(command, field)
    return command.command_id


def enqueue(command_id: uuid.UUID) -> None:
    """Ask a worker to run the command; if the broker is down, beat's sweep will."""
    from commands.tasks import run_command

    try:
        run_command.delay(str(command_id))
    except Exception:  # the command is accepted whatever the broker says
        logger.warning("Could not enqueue command %s; the sweep will run it", command_id, exc_info=True)


# --- Running ----------------------------------------------------------------


def run(command_id: uuid.UUID) -> int:
    """Run the accepted commands of `command_id`'s ordering key, oldest first; return how many ran."""
    inbox = InboxCommand.objects.using(WRITE_DATABASE)
    key = inbox.filter(command_id=command_id).values_list("ordering_key", flat=True).first()
    if key is None:
        logger.warning("No command %s in the inbox", command_id)
        return 0
    if key == command_id:  # a command that creates its aggregate has a key of its own: nothing runs after it
        return 0 if run_oldest(key, alone=True) is None else 1
    ran = 0
    while run_oldest(key) is not None:
        ran += 1
    return ran


def run_oldest(key: uuid.UUID, *, alone: bool = False) -> InboxCommand | None:
    """Claim and run the oldest accepted command of `key`; None when there is none this worker may run.

    `alone`: the key is one command's own, so no older command of it can be waiting.
    """
    inbox = InboxCommand.objects.using(WRITE_DATABASE)
    claimed = None
    try:
        with transaction.atomic(using=WRITE_DATABASE):
            accepted = inbox.filter(ordering_key=key, state=State.ACCEPTED)
            oldest_first = accepted.select_related("actor").order_by("sequence")
            claimed = oldest_first.select_for_update(skip_locked=True, of=("self",)).first()
            if claimed is None:
                return None
            # The oldest one was skipped: another worker holds it, and runs ours after it.
            if not alone and accepted.filter(sequence__lt=claimed.sequence).exists():
                return None
            _execute(claimed)
            return claimed
    except DATABASE_ERRORS:
        raise  # nothing committed: the task retries, and the row is still accepted
    except Exception as error:
        if claimed is None:
            raise
        return _fail(claimed, error)


def _execute(claimed: InboxCommand) -> None:
    """Dispatch the claimed command and record its outcome, in the caller's transaction."""
    try:
        command = decode(claimed.type, claimed.payload)
        if claimed.actor is None:
            raise Forbidden("The user who sent this command no longer exists.")
        recorded: Recorded = dispatch(command, claimed.actor)
    except DomainError as refusal:  # the handler's own transaction (a savepoint here) rolled back
        claimed.state, claimed.error = State.REFUSED, error_body(refusal)
    else:
        claimed.state = State.SUCCEEDED
        claimed.result = {"id": str(recorded.aggregate_id), "version": recorded.version, "position": recorded.position}
    claimed.finished_at = timezone.now()
    claimed.save(update_fields=["state", "error", "result", "finished_at"])


def _fail(claimed: InboxCommand, error: Exception) -> InboxCommand:
    """Mark a command failed: a bug, not a rule, so retrying at once would fail again; staff retry it later."""
    logger.error("Command %s failed", claimed.command_id, exc_info=error)
    claimed.state = State.FAILED
    claimed.error = {"code": "internal_error", "detail": f"{type(error).__name__}: {error}"}
    claimed.finished_at = timezone.now()
    # Only if still accepted: another worker may have run it since our transaction rolled back.
    InboxCommand.objects.using(WRITE_DATABASE).filter(pk=claimed.pk, state=State.ACCEPTED).update(
        state=claimed.state, error=claimed.error, finished_at=claimed.finished_at, attempts=F("attempts") + 1
    )
    return claimed


def error_body(refusal: DomainError) -> dict:
    """The body a synchronous command's 4xx carries (config.api.exception_handler)."""
    return {"code": refusal.code, "detail": refusal.message, **refusal.extra}


def sweep() -> int:
    """Enqueue each ordering key that has a command accepted over COMMAND_SWEEP_AFTER_SECONDS ago.

    Its task was lost (the broker went down or forgot it) or its worker died. A
    key whose task is only slow gets a second one, which finds nothing to do.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.COMMAND_SWEEP_AFTER_SECONDS)
    stale = InboxCommand.objects.using(WRITE_DATABASE).filter(state=State.ACCEPTED, accepted_at__lt=cutoff)
    oldest = {}
    for key, command_id in stale.order_by("-sequence").values_list("ordering_key", "command_id"):
        oldest[key] = command_id
    for command_id in oldest.values():
        enqueue(command_id)
    return len(oldest)


def retry(failed: InboxCommand) -> bool:
    """Accept a failed command again (its ordering key's later commands may have run meanwhile)."""
    retried = (
        InboxCommand.objects.using(WRITE_DATABASE)
        .filter(pk=failed.pk, state=State.FAILED)
        .update(state=State.ACCEPTED, error=None, finished_at=None)
    )
    if retried:
        transaction.on_commit(lambda: enqueue(failed.command_id), using=WRITE_DATABASE)
    return bool(retried)


# --- The payload ------------------------------------------------------------


def encode(command: Command) -> dict:
    """The command's fields as JSON (UUIDs and decimals as strings)."""
    return _jsonable(dataclasses.asdict(command))


def decode(type_name: str, payload: dict) -> Command:
    """The command `encode` stored, rebuilt from its dataclass's field types."""
    command_type = COMMAND_TYPES[type_name]
    return command_type(**_typed(command_type, payload))


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    return value


def _typed(dataclass_type, payload: dict) -> dict:
    hints = _type_hints(dataclass_type)
    return {name: _convert(hints[name], value) for name, value in payload.items()}


@functools.cache
def _type_hints(dataclass_type) -> dict:
    return typing.get_type_hints(dataclass_type)


def _convert(hint, value):
    if value is None:
        return None
    if typing.get_origin(hint) in (typing.Union, type(int | None)):  # X | None
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        item_type = typing.get_args(hint)[0]
        return tuple(_convert(item_type, item) for item in value)
    if dataclasses.is_dataclass(hint):
        return hint(**_typed(hint, value))
    if hint in (uuid.UUID, Decimal):
        return hint(value)
    return value

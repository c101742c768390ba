"""The audit log of operator actions: `record` is the only code that writes commands.OperatorAction."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser

from commands.models import OperatorAction
from core.routers import WRITE_DATABASE


def record(
    *,
    actor: AbstractBaseUser,
    action: str,
    target: str,
    outcome: str,
    detail: str = "",
    command_id: uuid.UUID | None = None,
) -> OperatorAction:
    """Record that `actor` did `action` to `target`, with its outcome (inside the caller's transaction, if any)."""
    return OperatorAction.objects.using(WRITE_DATABASE).create(
        actor=actor,
        actor_name=actor.get_username(),
        action=action,
        target=target[:200],
        outcome=outcome,
        detail=detail,
        command_id=command_id,
    )

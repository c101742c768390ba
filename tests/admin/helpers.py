"""What the admin tests share: permissions, running the followers, reading messages and audit rows."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from commands.models import OperatorAction
from projections.registry import registry
from projections.runner import catch_up
from tests.projections.helpers import broken

VIEWER_PERMISSIONS = (
    "projections.view_checkpoint",
    "projections.view_skippedevent",
    "projections.view_outgoingemail",
    "projections.view_rebuildrun",
    "queries.view_productcatalog",
    "queries.view_ordersummary",
    "queries.view_customerorderhistory",
    "queries.view_dailysales",
    "commands.view_product",
    "commands.view_customer",
    "commands.view_order",
    "commands.view_storedevent",
    "commands.view_operatoraction",
)
OPERATOR_PERMISSIONS = (
    *VIEWER_PERMISSIONS,
    "projections.rebuild_projection",
    "projections.retry_projection",
    "projections.skip_event",
    "commands.change_product",
    "commands.change_order",
)


def grant(user, *permissions: str):
    """Give `user` the permissions ("app_label.codename"); return the user, fetched afresh (no cached perms)."""
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)


def project() -> None:
    """Catch every projection and subscriber up to the head of the log, as the Celery workers would."""
    for follower in registry().values():
        catch_up(follower)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def audit_rows() -> list[tuple[str, str, str, str]]:
    """(actor, action, target, outcome) of every operator action, oldest first."""
    return list(OperatorAction.objects.order_by("at", "id").values_list("actor_name", "action", "target", "outcome"))


def run_action(client, model, action: str, objects, **fields):
    """POST an admin action on `objects` from `model`'s list, as the list's action bar does."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    data = {"action": action, "index": "0", "_selected_action": [str(obj.pk) for obj in objects], **fields}
    return client.post(url, data)


def offered_actions(client, model) -> list[str]:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    form = client.get(url).context["action_form"]  # None when no action is offered
    return [name for name, _ in form.fields["action"].choices if name] if form else []


def fail(name: str, event_type: str, *, at: int) -> None:
    """Make follower `name` fail on the event at position `at` (every follower is caught up otherwise)."""
    with broken(name, event_type, at=at):
        project()

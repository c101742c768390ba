"""The command inbox in the admin: asynchronous commands by state, and a retry for the failed ones.

Nothing here runs a command: retrying puts a failed command back to accepted
(commands.inbox.retry) for a worker to run, audited, like every operator action.
"""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.db import transaction

from commands import audit, inbox
from commands.models import InboxCommand, OperatorAction
from core.admin import ReadOnlyAdmin, pretty_json
from core.routers import WRITE_DATABASE


@admin.register(InboxCommand)
class InboxCommandAdmin(ReadOnlyAdmin):
    list_display = ["command_id", "type", "state", "actor", "accepted_at", "finished_at", "attempts"]
    list_filter = ["state", "type", "accepted_at"]
    list_select_related = ["actor"]
    search_fields = ["=idempotency_key"]  # see get_search_results for command ids
    search_help_text = "A command id, or the Idempotency-Key it was sent with."
    date_hierarchy = "accepted_at"
    ordering = ["-sequence"]
    list_per_page = 50
    fields = [
        "command_id",
        "type",
        "state",
        "actor",
        "idempotency_key",
        "ordering_key",
        "accepted_at",
        "finished_at",
        "attempts",
        "payload_json",
        "result_json",
        "error_json",
    ]
    readonly_fields = ["payload_json", "result_json", "error_json"]
    actions = ["retry_failed"]

    def get_search_results(self, request, queryset, search_term):
        try:
            command_id = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(command_id=command_id), False

    @admin.display(description="payload")
    def payload_json(self, command: InboxCommand) -> str:
        return pretty_json(command.payload)

    @admin.display(description="result")
    def result_json(self, command: InboxCommand) -> str:
        return pretty_json(command.result)

    @admin.display(description="error")
    def error_json(self, command: InboxCommand) -> str:
        return pretty_json(command.error)

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("commands.change_inboxcommand")

    @admin.action(description="Retry selected failed commands", permissions=["retry"])
    def retry_failed(self, request, queryset):
        for command in queryset:
            target = f"command {command.command_id}"
            # The audit row commits with the state change, or not at all.
            with transaction.atomic(using=WRITE_DATABASE):
                retried = inbox.retry(command)
                audit.record(
                    actor=request.user,
                    action="retry_command",
                    target=target,
                    outcome=OperatorAction.Outcome.DONE if retried else OperatorAction.Outcome.REFUSED,
                    detail="" if retried else f"it is {command.state}; only failed commands are retried",
                    command_id=command.command_id,
                )
            if retried:
                self.message_user(request, f"{command.type} {command.command_id}: accepted again.", messages.SUCCESS)
            else:
                message = f"{command.type} {command.command_id}: not retried, it is {command.state}, not failed."
                self.message_user(request, message, messages.ERROR)

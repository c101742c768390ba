"""The projection side's tables in the admin, read-only: checkpoints, skipped events, outgoing e-mail, rebuilds.

Operators act on followers from the projection dashboard (queries.admin.dashboard),
which the checkpoint list links to; nothing here changes a row.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core.admin import ReadOnlyAdmin
from projections.models import Checkpoint, OutgoingEmail, RebuildRun, SkippedEvent
from projections.subscribers import notifications


def _event_link(position: int | None) -> str:
    if position is None:
        return ""
    return format_html('<a href="{}">#{}</a>', reverse("admin:commands_storedevent_change", args=[position]), position)


def _error(text: str) -> str:
    if not text.strip():
        return ""
    return format_html('<details class="error"><summary>{}</summary><pre>{}</pre></details>', _last_line(text), text)


def _last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["name", "position", "state", "attempts", "failed_at", "last_error", "updated_at"]
    list_filter = ["state"]
    fields = ["name", "position", "state", "attempts", "failed_at", "error_with_traceback", "updated_at"]
    readonly_fields = ["failed_at", "error_with_traceback"]
    change_list_template = "admin/projections/checkpoint/change_list.html"

    @admin.display(description="failed at")
    def failed_at(self, checkpoint):
        return _event_link(checkpoint.failed_position)

    @admin.display(description="last error")
    def last_error(self, checkpoint):
        return _last_line(checkpoint.error) if checkpoint.error.strip() else ""

    @admin.display(description="error")
    def error_with_traceback(self, checkpoint):
        return _error(checkpoint.error)


@admin.register(SkippedEvent)
class SkippedEventAdmin(ReadOnlyAdmin):
    list_display = ["checkpoint", "event", "event_type", "skipped_by", "skipped_at"]
    list_filter = ["checkpoint", "event_type"]
    search_fields = ["skipped_by", "event_type"]
    date_hierarchy = "skipped_at"
    fields = ["checkpoint", "event", "event_type", "error_with_traceback", "skipped_by", "skipped_at"]
    readonly_fields = ["event", "error_with_traceback"]

    @admin.display(description="event", ordering="position")
    def event(self, skipped):
        return _event_link(skipped.position)

    @admin.display(description="error")
    def error_with_traceback(self, skipped):
        return _error(skipped.error)


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(ReadOnlyAdmin):
    list_display = ["event", "kind", "recipient", "subject", "state", "created_at", "claimed_at", "sent_at"]
    list_filter = ["state", "kind", "created_at"]
    search_fields = ["recipient", "subject"]
    date_hierarchy = "created_at"
    fields = [
        "event",
        "kind",
        "recipient",
        "subject",
        "body",
        "state",
        "error",
        "created_at",
        "claimed_at",
        "sent_at",
        "message_id",
    ]
    readonly_fields = ["event", "message_id"]

    @admin.display(description="event", ordering="position")
    def event(self, email):
        return _event_link(email.position)

    @admin.display(description="Message-ID")
    def message_id(self, email):
        return notifications.message_id(email.kind, email.position)


@admin.register(RebuildRun)
class RebuildRunAdmin(ReadOnlyAdmin):
    list_display = ["name", "state", "requested_by", "events_done", "position", "requested_at", "finished_at"]
    list_filter = ["state", "name"]
    date_hierarchy = "requested_at"
    fields = [
        "name",
        "state",
        "requested_by",
        "events_done",
        "position",
        "head",
        "error_with_traceback",
        "requested_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = ["error_with_traceback"]

    @admin.display(description="error")
    def error_with_traceback(self, run):
        return _error(run.error)

"""The event log in the admin: every event, each aggregate's history (its stream), and the audit log."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from commands.eventlog import read_stream
from commands.events import EVENT_TYPES, upcast_data
from commands.models import Customer, OperatorAction, Order, Product, StoredEvent
from core.admin import ReadOnlyAdmin, pretty_json, stream_link, stream_url

# --- The event log ----------------------------------------------------------------


class EventTypeFilter(admin.SimpleListFilter):
    """The known event types, without a DISTINCT scan of the whole log."""

    title = "type"
    parameter_name = "type"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EVENT_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(type=self.value()) if self.value() else queryset


@admin.register(StoredEvent)
class StoredEventAdmin(ReadOnlyAdmin):
    list_display = ["position", "type", "stream", "version", "recorded_at", "actor"]
    list_filter = [EventTypeFilter, "recorded_at"]
    search_fields = ["stream_id"]  # see get_search_results
    search_help_text = "A stream id (the id of an order, product or customer), or an event's position."
    date_hierarchy = "recorded_at"
    ordering = ["-position"]
    list_per_page = 50
    fields = ["position", "type", "schema_version", "stream", "version", "recorded_at", "payload", "meta"]
    readonly_fields = ["stream", "payload", "meta"]
    # The aggregate's read-model state after each event of a stream, for the stream page:
    # stream id -> {position: an object with `state` (field -> value) and `changes` ([(field, before, after)])}.
    # The write side knows no read model: the projections plug this in (projections/apps.py).
    stream_states: Callable[[uuid.UUID], dict[int, Any]] | None = None

    def get_urls(self):
        stream = path(
            "stream/<uuid:stream_id>/",
            self.admin_site.admin_view(self.stream_view),
            name="commands_storedevent_stream",
        )
        return [stream, *super().get_urls()]

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip().removeprefix("#")
        if not term:
            return queryset, False
        try:
            return queryset.filter(stream_id=uuid.UUID(term)), False
        except ValueError:
            pass
        if term.isdigit():
            return queryset.filter(position=int(term)), False
        return queryset.none(), False

    @admin.display(description="stream", ordering="stream_id")
    def stream(self, event):
        return stream_link(event.stream_id, str(event.stream_id))

    @admin.display(description="actor")
    def actor(self, event):
        return (event.metadata.get("actor") or {}).get("username", "")

    @admin.display(description="data")
    def payload(self, event):
        return pretty_json(shown_data(event))

    @admin.display(description="metadata")
    def meta(self, event):
        return pretty_json(event.metadata)

    def stream_view(self, request, stream_id):
        """An aggregate's history: every event of its stream, oldest first, with its payload."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        events = read_stream(stream_id)
        if not events:
            raise Http404(f"No events in stream {stream_id}.")
        aggregate = _aggregate(stream_id)
        try:
            states = self.stream_states(stream_id) if self.stream_states else {}
        except ValueError as error:
            # An event this code cannot read (written by newer code): show the events, without states.
            states = {}
            messages.warning(request, f"The states after each event cannot be shown: {error}.")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Event history of {aggregate._meta.verbose_name if aggregate else 'stream'} {stream_id}",
            "opts": self.opts,
            "stream_id": stream_id,
            "aggregate": aggregate,
            "aggregate_url": _admin_url(request, aggregate),
            "events": [
                (event, pretty_json(shown_data(event)), pretty_json(event.metadata), states.get(event.position))
                for event in events
            ],
            "changelist_url": reverse("admin:commands_storedevent_changelist") + f"?stream_id={stream_id}",
        }
        return TemplateResponse(request, "admin/commands/storedevent/stream.html", context)


def show_stream_states(function: Callable[[uuid.UUID], dict[int, Any]]) -> None:
    """Have the stream page show what `function` gives: the aggregate's state after each event, and its changes."""
    StoredEventAdmin.stream_states = staticmethod(function)


def shown_data(event) -> dict:
    """The event's data as code reads it: upcast to its type's newest version (the stored version is shown apart).

    An event this code cannot read (a version newer than it) is shown as stored.
    """
    try:
        return upcast_data(event.type, event.data, event.schema_version)
    except ValueError:
        return event.data


def _aggregate(stream_id):
    """The order, product or customer whose stream this is (None for a stream without its aggregate)."""
    for model in (Order, Product, Customer):
        aggregate = model.objects.filter(pk=stream_id).first()
        if aggregate is not None:
            return aggregate
    return None


def _admin_url(request, aggregate) -> str:
    """The aggregate's own admin page, where the operator may see it."""
    if aggregate is None or not request.user.has_perm(f"commands.view_{aggregate._meta.model_name}"):
        return ""
    return reverse(f"admin:commands_{aggregate._meta.model_name}_change", args=[aggregate.pk])


# --- The audit log ----------------------------------------------------------------


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor_name", "action", "target", "outcome", "detail", "command_events"]
    list_filter = ["outcome", "action", "at"]
    search_fields = ["actor_name", "target", "detail"]
    date_hierarchy = "at"

    @admin.display(description="events")
    def command_events(self, action):
        if action.command_id is None or action.outcome != OperatorAction.Outcome.DONE:
            return ""
        stream_id = action.target.rpartition(" ")[2]
        return format_html('<a href="{}">{}</a>', stream_url(stream_id), "history")

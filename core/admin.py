"""What every app's admin shares: read-only model admins, links to an aggregate's event stream, pretty JSON.

Nothing in the admin saves a model: the write side changes through commands
(admin actions that dispatch them), the read side only through projections.
"""

import json
import uuid

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.html import format_html


class ReadOnlyAdmin(admin.ModelAdmin):
    """Operators may look (with the model's view permission), never add, change or delete."""

    show_full_result_count = False  # no second COUNT(*) over a large table on every filtered page

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def stream_url(stream_id) -> str:
    """The admin page of an aggregate's event stream: its whole history."""
    return reverse("admin:commands_storedevent_stream", args=[stream_id])


def stream_link(stream_id, label: str = "Event history") -> str:
    return format_html('<a class="event-history" href="{}">{}</a>', stream_url(stream_id), label)


def pretty_json(value) -> str:
    """`value` as indented JSON in a <pre>, escaped."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre class="json">{}</pre>', text)


class UUIDSearchMixin:
    """A search term that is a UUID finds the row with that primary key; any other term searches as usual.

    (The default search would compare a UUID column with LIKE, which matches
    differently on SQLite, where UUIDs are stored without dashes, and PostgreSQL.)
    """

    def get_search_results(self, request, queryset, search_term):
        try:
            key = uuid.UUID(search_term.strip())
        except ValueError:
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(pk=key), False


def require_permission(request, permission: str) -> None:
    """Refuse (403) a signed-in staff user who lacks `permission` (the admin site has checked staff)."""
    if not request.user.has_perm(permission):
        raise PermissionDenied

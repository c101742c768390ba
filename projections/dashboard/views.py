"""The projection control panel: where each follower stands, and what operators can do to them.

Views only translate HTTP: the work is in projections.dashboard.actions (audited
actions) and projections.monitoring (rebuild progress, lag samples). Every
page needs a staff login (the admin site's own check); reading needs a view
permission, and each action its own permission, checked here, on POST only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib import admin, messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core import charts
from core.admin import pretty_json, require_permission
from core.routers import current_read_database
from projections import monitoring
from projections.dashboard import actions
from projections.models import Checkpoint, RebuildRun
from projections.operations import OperationRefused
from projections.registry import registry, replayable_projections
from projections.status import FollowerStatus, follower_statuses

VIEW = "projections.view_checkpoint"
REBUILD = "projections.rebuild_projection"
RETRY = "projections.retry_projection"
SKIP = "projections.skip_event"

LAG_WINDOW = timedelta(hours=1)


def urls(site) -> list:
    """The dashboard's URLs, to serve inside the admin site (named admin:dashboard...)."""
    view = site.admin_view  # staff only (others go to the login page), CSRF-protected, never cached
    return [
        path("dashboard/", view(projections_page), name="dashboard"),
        path("dashboard/status.json", view(status_json), name="dashboard_status"),
        path("dashboard/rebuild/", view(rebuild), name="dashboard_rebuild"),
        path("dashboard/<str:name>/retry/", view(retry), name="dashboard_retry"),
        path("dashboard/<str:name>/skip/", view(skip_event), name="dashboard_skip"),
    ]


def _follower(name: str) -> None:
    if name not in registry():
        raise Http404(f"No projection or subscriber named {name!r}.")


# --- The projections page ------------------------------------------------------


@dataclass(frozen=True)
class Row:
    status: FollowerStatus
    run: RebuildRun | None  # the latest rebuild, for projections

    @property
    def rebuildable(self) -> bool:
        # A rebuild is of the whole read model: offered once, on its first partition's row.
        return self.status.kind == "projection" and self.status.partition == 1

    @property
    def lag(self) -> str:
        return duration(self.status.lag_seconds)


def duration(seconds: float) -> str:
    """A lag for people: '0 s', '0.4 s', '12 s', '3 min 5 s', '2 h 10 min'."""
    if seconds < 1:
        return "0 s" if seconds <= 0 else f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _rows() -> list[Row]:
    statuses = follower_statuses(current_read_database())
    runs = monitoring.latest_rebuilds(replayable_projections())
    return [Row(status, runs.get(status.projection)) for status in statuses]


def _table_context(request, rows: list[Row]) -> dict:
    return {
        "rows": rows,
        "can_rebuild": request.user.has_perm(REBUILD),
        "can_retry": request.user.has_perm(RETRY),
        "can_skip": request.user.has_perm(SKIP),
    }


def projections_page(request):
    require_permission(request, VIEW)
    rows = _rows()
    now = timezone.now()
    history = monitoring.lag_history(now - LAG_WINDOW)
    context = {
        **admin.site.each_context(request),
        **_table_context(request, rows),
        "title": "Projection dashboard",
        "tab": "projections",
        "head": rows[0].status.head if rows else 0,
        "projection_names": list(replayable_projections()),
        "lag_events_chart": _lag_chart(history, now, "lag_events", "Lag in events over the last hour", 1),
        "lag_seconds_chart": _lag_chart(history, now, "lag_seconds", "Lag in seconds over the last hour", 0),
    }
    return TemplateResponse(request, "admin/dashboard/projections.html", context)


def status_json(request):
    """The table's data, and its rows rendered, for the page's auto-refresh (and for scripts)."""
    require_permission(request, VIEW)
    rows = _rows()
    html = render_to_string("admin/dashboard/_followers.html", _table_context(request, rows), request=request)
    followers = [
        {
            "name": row.status.name,
            "kind": row.status.kind,
            "state": row.status.state,
            "version": row.status.version,
            "code_version": row.status.code_version,
            "position": row.status.position,
            "head": row.status.head,
            "lag_events": row.status.lag_events,
            "lag_seconds": row.status.lag_seconds,
            "failed_position": row.status.failed_position,
            "last_error": row.status.last_error,
            "rebuild": _run_json(row.run),
        }
        for row in rows
    ]
    head = rows[0].status.head if rows else 0
    return JsonResponse({"head": head, "followers": followers, "html": html})


def _run_json(run: RebuildRun | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "state": run.state,
        "percent": run.percent,
        "events_done": run.events_done,
        "version": run.version,
    }


def _lag_chart(history: dict, now: datetime, field: str, label: str, min_step: float) -> str:
    start = now - LAG_WINDOW
    series = {  # in the table's order
        name: [(sample.taken_at.timestamp(), getattr(sample, field)) for sample in history[name]]
        for name in registry()
        if name in history
    }
    first_tick = start.replace(second=0, microsecond=0) + timedelta(minutes=10 - start.minute % 10)
    ticks = [
        (tick.timestamp(), timezone.localtime(tick).strftime("%H:%M"))
        for tick in (first_tick + timedelta(minutes=10 * n) for n in range(6))
        if tick <= now
    ]
    return mark_safe(  # the charts escape every text they draw
        charts.line_chart(
            series, x_range=(start.timestamp(), now.timestamp()), x_ticks=ticks, label=label, min_step=min_step
        )
    )


# --- Actions: POST only, each with its permission --------------------------------


@require_POST
def rebuild(request):
    require_permission(request, REBUILD)
    names = request.POST.getlist("name")
    try:
        actions.request_rebuild(names, by=request.user)
    except OperationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Rebuild of {', '.join(names)} requested: its progress shows in the table.")
    return redirect("admin:dashboard")


@require_POST
def retry(request, name: str):
    require_permission(request, RETRY)
    _follower(name)
    try:
        checkpoint = actions.retry(name, by=request.user)
    except OperationRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Retried {name}: it is live again and catches up from #{checkpoint.position}.")
    return redirect("admin:dashboard")


def skip_event(request, name: str):
    """GET: what skipping would pass over, and a confirmation form. POST: skip it."""
    require_permission(request, SKIP)
    _follower(name)
    if request.method == "POST":
        try:
            skipped = actions.skip_event(name, position=int(request.POST.get("position", "")), by=request.user)
        except ValueError:
            messages.error(request, "Say which event to skip.")
        except OperationRefused as refusal:
            messages.error(request, str(refusal))
        else:
            messages.success(request, f"Skipped event #{skipped.position} for {name}: it is live again.")
        return redirect("admin:dashboard")
    try:
        checkpoint, event = actions.failed_event(name)
    except Checkpoint.DoesNotExist:
        raise Http404(f"{name} has no checkpoint yet.") from None
    if event is None:
        messages.error(request, f"{name} has not failed on an event: there is nothing to skip.")
        return redirect("admin:dashboard")
    context = {
        **admin.site.each_context(request),
        "title": f"Skip event #{event.position} for {name}?",
        "name": name,
        "checkpoint": checkpoint,
        "event": event,
        "event_data": pretty_json(event.data),
        "last_error": checkpoint.error.strip().splitlines()[-1] if checkpoint.error.strip() else "",
        "event_url": reverse("admin:commands_storedevent_change", args=[event.position]),
        "stream_url": reverse("admin:commands_storedevent_stream", args=[event.stream_id]),
        "replayable": registry()[name].replayable,
    }
    return TemplateResponse(request, "admin/dashboard/skip_confirmation.html", context)

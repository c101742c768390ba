"""The live views: GET /api/queries/stream/ (server-sent events) and the live order page /orders/<id>/.

The stream is an async view whose response body is an async iterator
(queries.fanout.stream): under ASGI a stream holds no thread while it is open,
only a coroutine and a queue; when the client goes, Django cancels it and
everything it held is freed.

Authentication is the API's: a token (Authorization: Token ...) or the session
cookie. A browser's EventSource cannot set headers, so a page of the shop uses
the session cookie it signed in with (the live order page does).
"""

from __future__ import annotations

import uuid

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpResponseNotAllowed, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse_lazy
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.settings import api_settings

from projections.history import past_states
from projections.live import customer_of, head_position
from queries import fanout
from queries.consistency import MAX_POSITION
from queries.permissions import may_see_order
from queries.serializers import OrderSerializer
from queries.stream import ORDER, Listener, TopicsRefused, requested_topics

LAST_EVENT_ID_HEADER = "Last-Event-ID"
LAST_EVENT_ID_PARAMETER = "last_event_id"


class _Refused(Exception):
    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


async def stream_view(request):
    """Server-sent events: the changes to the read models the caller may see, from a log position on."""
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    try:
        # On the request's own thread, as Django runs any synchronous code of an async view: the session
        # and the user are read there (and, in a test, inside the test's transaction).
        listener, position = await sync_to_async(_open_and_release, thread_sensitive=True)(request)
        if not isinstance(request, ASGIRequest):
            # Under WSGI (runserver, a test's live server) a stream would hold a thread for as long as it is open.
            raise _Refused(503, "stream_needs_asgi", "The live stream is served by the ASGI server (scripts/serve).")
    except (_Refused, TopicsRefused) as refusal:
        return JsonResponse({"code": refusal.code, "detail": refusal.detail}, status=refusal.status)
    response = StreamingHttpResponse(fanout.stream(listener, position), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx and its kind would otherwise hold the events back
    return response


def _open_and_release(request) -> tuple[Listener, int | None]:
    try:
        return _open(request)
    finally:
        fanout.close_connections()  # the stream would otherwise keep them for as long as it is open


def _open(request) -> tuple[Listener, int | None]:
    """Who listens, to what, from which position: every refusal is raised here, before the stream starts."""
    user = _authenticated_user(request)
    topics = requested_topics(request.GET.get("topics"), user)
    position = _resume_position(request)
    customer_id = None
    if ORDER in topics and user.is_authenticated and not user.is_staff:
        customer_id = customer_of(user.pk)
    return Listener(topics, staff=user.is_staff, customer_id=customer_id), position


def _authenticated_user(request):
    """The user of a token or a session, as every API view authenticates; anonymous if neither."""
    drf_request = Request(request, authenticators=[auth() for auth in api_settings.DEFAULT_AUTHENTICATION_CLASSES])
    try:
        return drf_request.user
    except APIException as failure:  # a token that is wrong or inactive
        raise _Refused(failure.status_code, failure.get_codes(), str(failure.detail)) from None


def _resume_position(request) -> int | None:
    """The position to resume after: Last-Event-ID (a reconnecting EventSource sends it), else ?last_event_id=.

    The header wins: a browser reconnects to the URL it first opened, whose
    parameter is older than the header it sends.
    """
    value = request.headers.get(LAST_EVENT_ID_HEADER) or request.GET.get(LAST_EVENT_ID_PARAMETER)
    if value is None or value == "":
        return None
    value = value.strip()
    if not (value.isascii() and value.isdecimal()) or len(value) > len(str(MAX_POSITION)):
        raise _Refused(400, "invalid_last_event_id", "Last-Event-ID and last_event_id must be a log position.")
    position = int(value)
    head = head_position()
    if position > head:
        raise _Refused(400, "unknown_position", f"Position {position} is beyond the event log's head ({head}).")
    return position


# --- The live order page ------------------------------------------------------------


@login_required(login_url=reverse_lazy("rest_framework:login"))
def order_page(request, order_id: uuid.UUID):
    """An order's status and lines, kept live by the stream; only its customer (or staff) may see it."""
    position = head_position()  # read first: the stream resumes from here, so nothing after the fold is missed
    states = past_states(ORDER, order_id)
    order = states[-1].row if states else None
    if order is None or not may_see_order(
        staff=request.user.is_staff, customer_id=customer_of(request.user.pk), order_customer_id=order.customer_id
    ):
        raise Http404("No such order.")
    context = {"order": OrderSerializer(order).data, "position": position}
    return render(request, "shop/order.html", context)

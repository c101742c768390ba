"""Waiting for a read position (X-Min-Position) without holding a thread.

A query that asks to read at least position P may have to wait for the
projections behind it. Under ASGI that wait happens here, in the event loop,
before any synchronous code runs: a waiting request holds no worker thread, so
a crowd of waits cannot starve plain reads. (The short checkpoint reads run,
as all of a request's synchronous code does under Django's ASGI handler, on
that request's own thread, which sits idle, not blocked, between them.) It is woken by the projections'
checkpoint announcements (projections.announcements, Redis pub/sub, heard
through the process's one subscription in queries.listening), not by
polling; it re-reads the checkpoint, from the database the request will answer
from, only when an announcement says there is something to see, and once a
second as a fallback for announcements lost to a Redis outage. A replica
replays the read primary's commits a few milliseconds after they are
announced, so a waiter that heard the primary get there re-reads its replica
in short steps until it has too.

Refused at once, before any wait: a position beyond the write side's head
(400 unknown_position: it may never come) and a client already holding
QUERY_WAITS_PER_CLIENT waits in this process (429 too_many_waits). A wait that
runs out hands over to the view, which answers 503 projection_behind. A database
that fails here (a replica shut down mid-wait, a primary out of connections) is
a 503 naming its side, as config.api answers it in a view: never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from contextlib import contextmanager

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from rest_framework.exceptions import ValidationError

from commands.eventlog import head_position
from core.routers import WRITE_DATABASE, pinned_replica
from queries.consistency import READ_POSITION_HEADER, read_position, requested_min_position
from queries.listening import Heard, listening

logger = logging.getLogger(__name__)

# The fallback re-read, for announcements lost while Redis was away.
FALLBACK_SECONDS = 1.0
# Between re-reads of a replica that is replaying what the primary announced.
REPLICA_STEP_SECONDS = 0.01
DATABASE_ERRORS = (OperationalError, InterfaceError)
# As config.api.DATABASE_RETRY_AFTER_SECONDS, which answers the same outage inside the views.
DATABASE_RETRY_AFTER_SECONDS = 5


class MinPositionMiddleware:
    """Outermost middleware: waits for a query's X-Min-Position in the event loop, then hands over.

    It pins the request's replica before waiting, so the wait and the view read
    the same database (core.routers.PinReplicaMiddleware keeps an existing pin).
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        if not iscoroutinefunction(get_response):
            raise TypeError("MinPositionMiddleware must be first in MIDDLEWARE, where the handler is async")
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        projections = _projections_awaited(request)
        minimum = _requested_minimum(request) if projections else None
        if minimum is None:  # most reads: nothing to wait for, and the view pins its own replica
            return await self.get_response(request)
        with pinned_replica() as pin:
            # Choosing may connect to a replica to see that it answers: not on the event loop.
            database = await sync_to_async(lambda: pin.alias)()
            refusal = await _wait(projections, minimum, request, database)
            return refusal or await self.get_response(request)


def _projections_awaited(request) -> tuple[str, ...]:
    """The projections a GET of a consistent-read query view may wait on; empty for anything else."""
    if request.method not in ("GET", "HEAD"):
        return ()
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return ()
    view_class = getattr(match.func, "cls", None)
    awaited = getattr(view_class, "projections_awaited", None)
    return tuple(awaited(match.kwargs)) if awaited else ()


def _requested_minimum(request) -> int | None:
    """The client's X-Min-Position; None for none, and for a malformed one, which the view refuses (400)."""
    try:
        return requested_min_position(request)
    except ValidationError:
        return None


async def _wait(projections: tuple[str, ...], minimum: int, request, database: str) -> JsonResponse | None:
    """Wait until `projections` reach `minimum` on `database`; return a refusal, or None to go on."""
    try:
        position = await _briefly(database, lambda: read_position(projections, using=database))
    except DATABASE_ERRORS:
        return _database_unavailable("read")
    if position >= minimum:
        return None
    try:
        head = await _briefly(WRITE_DATABASE, head_position)
    except DATABASE_ERRORS:
        return _database_unavailable("write", position)
    if minimum > head:
        return _refusal(
            400, "unknown_position", f"Position {minimum} is beyond the event log's head ({head}).", position
        )
    with _client_wait(_client_of(request)) as admitted:
        if not admitted:
            detail = f"Too many waiting requests from this client; at most {settings.QUERY_WAITS_PER_CLIENT} at once."
            return _refusal(429, "too_many_waits", detail, position)
        try:
            await wait_for_position(
                projections, minimum, using=database, timeout=settings.QUERY_MIN_POSITION_WAIT_SECONDS
            )
        except DATABASE_ERRORS:
            return _database_unavailable("read", position)
    return None


async def _briefly(database: str, read):
    """Run `read`, a short read on `database`, then hand the database connection back.

    A waiting request must not sit on a database connection: fifty of them
    would use up half of PostgreSQL's default max_connections, and the plain
    reads they must not starve would find none left.
    """

    def read_and_release():
        try:
            return read()
        finally:
            connection = connections[database]
            if not connection.in_atomic_block:  # inside a test's transaction the connection is the test's
                connection.close()

    return await sync_to_async(read_and_release)()


def _database_unavailable(side: str, position: int | None = None) -> JsonResponse:
    response = JsonResponse(
        {"code": f"{side}_database_unavailable", "detail": f"The {side} database cannot be reached; retry shortly."},
        status=503,
    )
    response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    if position is not None:
        response[READ_POSITION_HEADER] = str(position)
    return response


def _refusal(status: int, code: str, detail: str, position: int) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    response[READ_POSITION_HEADER] = str(position)
    if status == 429:
        response["Retry-After"] = "1"
    return response


def _client_of(request) -> str:
    # REMOTE_ADDR, not X-Forwarded-For: a client can write the latter, not the former.
    return request.META.get("REMOTE_ADDR", "")


_waits_by_client: Counter[str] = Counter()
_waits_lock = threading.Lock()  # test clients and WSGI run waits on several threads' loops


@contextmanager
def _client_wait(client: str):
    """Count one wait of `client` while the block runs; yield False if it already holds the maximum."""
    with _waits_lock:
        admitted = _waits_by_client[client] < settings.QUERY_WAITS_PER_CLIENT
        if admitted:
            _waits_by_client[client] += 1
    try:
        yield admitted
    finally:
        if admitted:
            with _waits_lock:
                _waits_by_client[client] -= 1
                if not _waits_by_client[client]:
                    del _waits_by_client[client]


async def wait_for_position(projections: tuple[str, ...], minimum: int, *, using: str, timeout: float) -> int:
    """Return the read position of `projections` on `using` once it reaches `minimum`, or when `timeout` runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with listening() as heard:
        while True:
            position = await _briefly(using, lambda: read_position(projections, using=using))
            remaining = deadline - loop.time()
            if position >= minimum or remaining <= 0:
                return position
            if heard.reached(projections, minimum):
                await asyncio.sleep(min(REPLICA_STEP_SECONDS, remaining))  # the replica replays what was announced
            else:
                await pause(min(FALLBACK_SECONDS, remaining), heard, projections, minimum)


async def pause(seconds: float, heard: Heard, projections: tuple[str, ...], minimum: int) -> None:
    """Sleep until `projections` are announced at `minimum`, or `seconds` pass (a seam for tests)."""
    await heard.until_reached(projections, minimum, seconds)

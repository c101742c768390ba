"""Waiting for a read position (X-Min-Position) without holding a thread.

A query that asks to read at least position P may have to wait for the
projections behind it. Under ASGI that wait happens here, in the event loop,
before any synchronous code runs: a waiting request holds no worker thread, so
a crowd of waits cannot starve plain reads. (The short checkpoint reads run,
as all of a request's synchronous code does under Django's ASGI handler, on
that request's own thread, which sits idle, not blocked, between them.) It is woken by the projections'
checkpoint announcements (projections.announcements, Redis pub/sub), not by
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
from contextlib import contextmanager, suppress

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connections
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from rest_framework.exceptions import ValidationError

from commands.eventlog import head_position
from core.routers import WRITE_DATABASE, pinned_replica
from projections import announcements
from queries.consistency import READ_POSITION_HEADER, read_position, requested_min_position

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
        if not projections:
            return await self.get_response(request)
        with pinned_replica() as pin:
            # Choosing may connect to a replica to see that it answers: not on the event loop.
            database = await sync_to_async(lambda: pin.alias)()
            refusal = await _wait(request, projections, database)
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


async def _wait(request, projections: tuple[str, ...], database: str) -> JsonResponse | None:
    """Wait until `projections` reach the requested minimum; return a refusal, or None to go on."""
    try:
        minimum = requested_min_position(request)
    except ValidationError:
        return None  # the view answers the 400, with the field's message
    if minimum is None:
        return None
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
    async with _announcements() as heard:
        while True:
            position = await _briefly(using, lambda: read_position(projections, using=using))
            remaining = deadline - loop.time()
            if position >= minimum or remaining <= 0:
                return position
            if heard.reached(projections, minimum):
                await asyncio.sleep(min(REPLICA_STEP_SECONDS, remaining))  # the replica replays what was announced
            else:
                await pause(min(FALLBACK_SECONDS, remaining), heard, projections, minimum)


async def pause(seconds: float, heard: _Heard, projections: tuple[str, ...], minimum: int) -> None:
    """Sleep until `projections` are announced at `minimum`, or `seconds` pass (a seam for tests)."""
    await heard.until_reached(projections, minimum, seconds)


class _Heard(dict):
    """The latest position announced per follower, and a way to await the one a waiter needs."""

    def __init__(self):
        super().__init__()
        self._news = asyncio.Event()
        self.settled = asyncio.Event()  # subscribed, or given up trying

    def record(self, name: str, position: int) -> None:
        self[name] = max(position, self.get(name, 0))
        self._news.set()

    def reached(self, projections: tuple[str, ...], minimum: int) -> bool:
        return all(self.get(name, 0) >= minimum for name in projections)

    async def until_reached(self, projections: tuple[str, ...], minimum: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.reached(projections, minimum) and (remaining := deadline - loop.time()) > 0:
            self._news.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._news.wait(), remaining)


class _announcements:
    """Listen to checkpoint announcements for the duration of one wait.

    One subscription per waiting request keeps the code simple and leaves
    nothing behind when the request goes; waits are bounded per client and in
    time, so the connections they take are too. Without Redis (the embedded
    default, where projections run inside the command) nothing is heard and the
    fallback re-read does the work.
    """

    async def __aenter__(self) -> _Heard:
        self.heard = _Heard()
        self.listener = None
        if settings.REDIS_URL:
            self.listener = asyncio.create_task(_listen(self.heard))
            # Subscribed before the first read, so no announcement falls between the two.
            # If Redis is slow to answer, the fallback re-read covers what the subscription misses.
            with suppress(TimeoutError):
                await asyncio.wait_for(self.heard.settled.wait(), timeout=1)
        return self.heard

    async def __aexit__(self, *exc_info) -> None:
        if self.listener:
            self.listener.cancel()
            await asyncio.gather(self.listener, return_exceptions=True)


async def _listen(heard: _Heard) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1)
    try:
        async with client.pubsub() as pubsub:
            await pubsub.subscribe(announcements.CHANNEL)
            heard.settled.set()
            async for message in pubsub.listen():
                announced = message["type"] == "message" and announcements.parse(message["data"])
                if announced:
                    heard.record(*announced)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.warning("could not listen for checkpoint announcements; waits fall back to re-reading", exc_info=True)
    finally:
        heard.settled.set()
        await client.aclose()

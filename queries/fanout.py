"""The fan-out of live changes to a web process's streams: each change is read and rendered once, then relayed.

One Hub per process (per event loop) follows the event log: woken by the
announcements of the log's head after each commit and of the followers'
checkpoints (queries.listening), and every STREAM_HEARTBEAT_SECONDS anyway for
the announcements lost while Redis was away, it reads the events after its
position, folds the changed rows (projections.live), renders each message once
and offers the batch to every stream. A stream only filters what its listener
may hear.

Each batch says which stretch of the log it covers. A stream keeps its own
position and, if a batch starts past it (it joined while the hub was reading,
or fell so far behind that its queue was dropped), reads the gap from the log
itself. So no change is lost between catching up and going live, and a slow
client costs memory only up to its queue's bound.

Nothing holds a thread: streams and the hub are coroutines, and every read runs
briefly in the executor and hands its database connection back.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.db import connections

from projections.live import LiveRows, head_position, read_events, topic_event_types
from projections.status import follower_statuses
from queries import stream as wire
from queries.listening import listening
from queries.stream import PROJECTION, Listener, Message, change_messages, status_message

logger = logging.getLogger(__name__)

# Events read per query; a batch that fills it is followed by another at once.
PAGE_EVENTS = 500
# Statuses are read at most this often: a follower announces each batch, a dashboard needs less.
STATUS_SECONDS = 0.5
# Batches a stream may have waiting before they are dropped and it reads the gap from the log.
QUEUE_BATCHES = 64


@dataclass(frozen=True)
class Batch:
    """The messages for the events after `start`, up to and including `through`."""

    start: int
    through: int
    messages: tuple[Message, ...]


def close_connections() -> None:
    """Close this thread's database connections (not a test's, held in its transaction)."""
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:  # inside a test's transaction the connection is the test's
            connection.close()


async def briefly(read, *args):
    """Run `read` in the executor, then close the database connections it opened.

    A stream lives for hours; it must not sit on a connection between reads.
    """

    def read_and_release():
        try:
            return read(*args)
        finally:
            close_connections()

    # Not thread-sensitive: a stream outlives its request's thread, and the hub belongs to no request.
    return await sync_to_async(read_and_release, thread_sensitive=False)()


def read_changes(rows: LiveRows, after: int, until: int | None = None) -> tuple[list[Message], int, bool]:
    """Messages for one page of the log after `after` (up to `until`); the position reached; whether more remain."""
    events = read_events(after, PAGE_EVENTS)
    more = len(events) == PAGE_EVENTS
    if until is not None:
        more = more and events[-1].position < until
        events = [event for event in events if event.position <= until]
    through = events[-1].position if events else after
    relevant = topic_event_types(rows.topics)
    changes = rows.changes(event for event in events if event.type in relevant)
    return change_messages(changes), through, more


def current_statuses() -> list[Message]:
    return [status_message(status) for status in follower_statuses()]


class Stream:
    """One client's stream: what it may hear, how far it has read, and the batches waiting for it."""

    def __init__(self, listener: Listener, position: int | None):
        self.listener = listener
        self.position = position
        self.queue: asyncio.Queue[Batch] = asyncio.Queue(maxsize=QUEUE_BATCHES)

    def offer(self, batch: Batch) -> None:
        if self.queue.full():
            # Too far behind: drop what waits; the next batch starts past this stream, which reads the gap.
            while not self.queue.empty():
                self.queue.get_nowait()
        self.queue.put_nowait(batch)

    async def messages(self) -> AsyncIterator[bytes]:
        """The stream's bytes: its opening, then what it missed, then live changes and heartbeats, until closed."""
        if self.position is None:
            self.position = await briefly(head_position)
        yield wire.opening(self.position)
        if PROJECTION in self.listener.topics:
            yield b"".join(message.wire for message in await briefly(current_statuses))
        async for part in self._catch_up(until=None):
            yield part
        heartbeat = settings.STREAM_HEARTBEAT_SECONDS
        while True:
            try:
                async with asyncio.timeout(heartbeat):
                    batches = [await self.queue.get()]
            except TimeoutError:
                yield wire.heartbeat(self.position)
                continue
            while not self.queue.empty():  # a stream that fell behind sends what waits in one write
                batches.append(self.queue.get_nowait())
            heard = []
            for batch in batches:
                if batch.start > self.position:
                    async for part in self._catch_up(until=batch.start):
                        yield part
                heard += [message for message in batch.messages if self.sends(message)]
                self.position = max(self.position, batch.through)
            if heard:
                yield wire.sent(heard)

    def sends(self, message: Message) -> bool:
        """Whether to send `message`: one this stream may hear, and (a row's) not sent already by a catch-up."""
        unsent = message.position is None or message.position > self.position
        return unsent and self.listener.hears(message)

    async def _catch_up(self, *, until: int | None) -> AsyncIterator[bytes]:
        """What this stream missed after its position, read from the log, page by page (up to `until`)."""
        rows = LiveRows()  # its own: the hub's rows are folded up to the hub's position, not this stream's
        more = True
        while more and (until is None or self.position < until):
            messages, through, more = await briefly(read_changes, rows, self.position, until)
            heard = [message for message in messages if self.listener.hears(message)]
            self.position = through
            if heard:
                yield wire.sent(heard)


class Hub:
    """A web process's follower of the log for all its streams (see the module's docstring)."""

    def __init__(self):
        self.streams: set[Stream] = set()
        self.position: int | None = None
        self.rows = LiveRows()
        self.sent_statuses: dict[str, bytes] = {}
        self.statuses_read_at = 0.0
        self.statuses_due = False
        # One thread of its own, which keeps its database connections between reads: a hub reads
        # at every announcement, and connecting each time would cost more than the read.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="live-hub")
        # Its own context: a task inherits the context of whoever creates it, here the first stream's request.
        self.task = asyncio.create_task(self._follow(), context=contextvars.Context())

    def join(self, stream: Stream) -> None:
        self.streams.add(stream)

    def leave(self, stream: Stream) -> bool:
        """Forget `stream`; True if it was the last."""
        self.streams.discard(stream)
        return not self.streams

    def close(self) -> None:
        # Not awaited: the last stream closes as its client goes, in a task being cancelled.
        self.task.cancel()

    async def _follow(self) -> None:
        try:
            async with listening() as heard:
                woken = False
                while True:
                    news = heard.upcoming()  # taken before reading: an announcement made during the read wakes us
                    try:
                        await self._advance(read_log=not woken or heard.missed_any() or self._behind(heard))
                    except Exception:
                        logger.warning("the live stream could not read the event log; it tries again", exc_info=True)
                        self.rows = LiveRows()  # a batch may have been half folded into them
                        await self._read(close_connections)
                    woken = await heard.wait(news, self._pause())
        finally:
            self.executor.submit(close_connections)
            self.executor.shutdown(wait=False)

    def _behind(self, heard) -> bool:
        """Whether a follower was announced past this hub's position: only then is there news in the log."""
        return self.position is None or max(heard.positions.values(), default=0) > self.position

    def _pause(self) -> float:
        """How long to wait for an announcement before reading anyway (statuses due sooner than the heartbeat)."""
        if self._wants_statuses() and self.statuses_due:
            return STATUS_SECONDS
        return settings.STREAM_HEARTBEAT_SECONDS

    def _wants_statuses(self) -> bool:
        return any(PROJECTION in stream.listener.topics for stream in self.streams)

    async def _read(self, read, *args):
        return await sync_to_async(read, thread_sensitive=False, executor=self.executor)(*args)

    async def _advance(self, *, read_log: bool) -> None:
        if self.position is None:
            self.position = await self._read(head_position)
            # Said to the streams, though empty: one that joined before this read, from a position
            # behind it, reads the stretch between from the log rather than wait for the next batch.
            self._offer(Batch(self.position, self.position, ()))
        more = read_log
        while more:
            messages, through, more = await self._read(read_changes, self.rows, self.position)
            self._broadcast(Batch(self.position, through, tuple(messages)))
            self.position = through
        self.statuses_due = self._wants_statuses()
        if self.statuses_due and time.monotonic() - self.statuses_read_at >= STATUS_SECONDS:
            self.statuses_read_at = time.monotonic()
            self.statuses_due = False
            self._broadcast(Batch(self.position, self.position, tuple(await self._read(self._changed_statuses))))

    def _changed_statuses(self) -> list[Message]:
        """The statuses that changed since this hub last sent them."""
        changed = []
        for status in follower_statuses():
            message = status_message(status)
            if self.sent_statuses.get(status.name) != message.wire:
                self.sent_statuses[status.name] = message.wire
                changed.append(message)
        return changed

    def _broadcast(self, batch: Batch) -> None:
        if batch.through == batch.start and not batch.messages:
            return
        self._offer(batch)

    def _offer(self, batch: Batch) -> None:
        for stream in self.streams:
            stream.offer(batch)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}


async def stream(listener: Listener, position: int | None) -> AsyncIterator[bytes]:
    """A client's stream from `position` (None: from the head now); everything it held is freed when it closes."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = Hub()
    client = Stream(listener, position)
    hub.join(client)  # before catching up: what the hub reads meanwhile waits in the queue
    _give_back_the_request_thread()
    try:
        async with aclosing(client.messages()) as parts:
            async for part in parts:
                yield part
    finally:
        if hub.leave(client) and _hubs.get(loop) is hub:
            del _hubs[loop]
            hub.close()


def _give_back_the_request_thread() -> None:
    """Shut down the thread Django's ASGI handler keeps for this request's synchronous middleware.

    The handler runs each request in a ThreadSensitiveContext, whose one-thread
    executor lives until the response ends: for a stream, an idle thread for
    hours. The middleware has run by the time the body streams, and the stream
    itself runs no thread-sensitive code, so the thread is given back now; a
    thread-sensitive call made later in this request (the response's close)
    gets a fresh one, which the context shuts down as it ends.
    """
    context = SyncToAsync.thread_sensitive_context.get(None)
    executor = SyncToAsync.context_to_thread_executor.pop(context, None) if context is not None else None
    if executor is not None:
        executor.shutdown(wait=False)


def hubs() -> int:
    """How many hubs this process runs (one per event loop with streams): for tests."""
    return len(_hubs)

"""The checkpoint announcements this web process hears: one Redis subscription, shared by all who listen.

Requests waiting for a read position (queries.waiting) and live streams
(queries.stream) hear the projections' announcements, and those of the log's
head after each commit (projections.announcements), through here. One
subscription per process and event loop, opened by the first listener and
closed with the last, keeps a thousand streams from holding a thousand Redis
connections. An announcement is only a hint: whoever hears one
re-reads the truth from a database, and keeps a fallback re-read for the
announcements lost while Redis was away. After Redis comes back the
subscription is opened again, and everyone is woken, since what was announced
meanwhile is lost.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from django.conf import settings

from projections import announcements
from projections.registry import checkpoint_names

logger = logging.getLogger(__name__)

# Between attempts to subscribe again after Redis went away.
RESUBSCRIBE_SECONDS = 1.0


async def within(seconds: float, awaitable) -> bool:
    """Await `awaitable` for at most `seconds`; False if the time ran out.

    asyncio.timeout rather than wait_for: on Python 3.11 wait_for swallows a
    cancellation that lands in the same turn of the loop as the awaited
    completes (an announcement as the last stream closes), and a hub cancelled
    then followed the log forever (tests/queries/test_listening.py).
    """
    try:
        async with asyncio.timeout(seconds):
            await awaitable
    except TimeoutError:
        return False
    return True


class Heard:
    """The latest position announced per follower, and ways to await news of them."""

    def __init__(self):
        self.positions: dict[str, int] = {}
        self._news = asyncio.Event()
        self._missed = False
        self.settled = asyncio.Event()  # subscribed, or failed to for now

    def record(self, name: str, position: int) -> None:
        self.positions[name] = max(position, self.positions.get(name, 0))
        self.wake()

    def wake(self) -> None:
        """Wake everyone awaiting news: each awaits its own event, so no one clears another's wake-up."""
        news, self._news = self._news, asyncio.Event()
        news.set()

    def lost_some(self) -> None:
        """Announcements may have been lost (Redis was away): wake everyone, and say so to missed_any()."""
        self._missed = True
        self.wake()

    def missed_any(self) -> bool:
        """Whether announcements were lost since the last call."""
        missed, self._missed = self._missed, False
        return missed

    def reached(self, projections: tuple[str, ...], minimum: int) -> bool:
        return all(self.positions.get(name, 0) >= minimum for name in checkpoint_names(projections))

    def upcoming(self) -> asyncio.Event:
        """The event the next announcement (or wake-up) sets: take it before reading, wait on it after."""
        return self._news

    async def wait(self, news: asyncio.Event, seconds: float) -> bool:
        """Wait until `news` (from `upcoming`) is set, at most `seconds`; True if it was."""
        await within(seconds, news.wait())
        return news.is_set()

    async def until_reached(self, projections: tuple[str, ...], minimum: int, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self.reached(projections, minimum) and (remaining := deadline - loop.time()) > 0:
            await self.wait(self.upcoming(), remaining)


class _Subscription:
    """The one subscription of an event loop, and how many use it."""

    def __init__(self):
        self.heard = Heard()
        self.users = 0
        self.task = asyncio.create_task(self._listen()) if settings.REDIS_URL else None
        if self.task is None:  # the embedded default: nobody announces, the fallback re-reads do the work
            self.heard.settled.set()

    async def close(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _listen(self) -> None:
        from redis.asyncio import Redis

        away = False
        while True:
            client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(announcements.CHANNEL)
                    self.heard.settled.set()
                    if away:
                        logger.info("listening for checkpoint announcements again")
                        away = False
                        self.heard.lost_some()  # what was announced while Redis was away is lost: re-read now
                    async for message in pubsub.listen():
                        announced = message["type"] == "message" and announcements.parse(message["data"])
                        if announced:
                            self.heard.record(*announced)
            except asyncio.CancelledError:
                raise
            except Exception:
                if not away:
                    logger.warning(
                        "lost the checkpoint announcements; listeners fall back to re-reading", exc_info=True
                    )
                away = True
            finally:
                self.heard.settled.set()
                await client.aclose()
            await asyncio.sleep(RESUBSCRIBE_SECONDS)


_subscriptions: dict[asyncio.AbstractEventLoop, _Subscription] = {}


@asynccontextmanager
async def listening():
    """Hear checkpoint announcements while the block runs; yields the shared Heard.

    Subscribed before the block starts (or given up for now after a second), so
    an announcement made after a listener's first read is not missed.
    """
    loop = asyncio.get_running_loop()
    subscription = _subscriptions.get(loop)
    if subscription is None:
        subscription = _subscriptions[loop] = _Subscription()
    subscription.users += 1
    try:
        await within(1, subscription.heard.settled.wait())
        yield subscription.heard
    finally:
        subscription.users -= 1
        if not subscription.users:
            del _subscriptions[loop]
            await subscription.close()


def subscriptions() -> int:
    """How many subscriptions this process holds (one per event loop in use): for tests."""
    return len(_subscriptions)

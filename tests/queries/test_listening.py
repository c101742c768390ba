"""queries.listening.within: a bounded wait that a cancellation always stops.

On Python 3.11 asyncio.wait_for could swallow a cancellation that arrived as its
timeout fired; a live-stream hub cancelled at that moment kept following the log
with no stream left, and the loop that ran it never closed (a test hung on it).
"""

import asyncio

import pytest

from queries.listening import within


def test_within_says_whether_the_awaited_finished_in_time():
    async def both():
        done = asyncio.Event()
        done.set()
        return await within(1, done.wait()), await within(0.01, asyncio.Event().wait())

    assert asyncio.run(both()) == (True, False)


def test_a_cancellation_that_lands_with_the_news_stops_the_waiter():
    async def news_and_cancellation_at_once():
        news = asyncio.Event()
        waiter = asyncio.create_task(within(5, news.wait()))
        await asyncio.sleep(0)  # it waits now
        news.set()  # an announcement...
        waiter.cancel()  # ...as the hub's last stream closes
        with pytest.raises(asyncio.CancelledError):
            await waiter

    asyncio.run(news_and_cancellation_at_once())

"""Reading server-sent events in tests: the wire parsed into messages, from the stream in-process or over HTTP."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import requests
from asgiref.sync import async_to_sync


@dataclass(frozen=True)
class Event:
    """One dispatched message: its topic, id and parsed data."""

    topic: str
    id: int
    data: dict


class Parser:
    """Feed it the stream's bytes; it keeps the dispatched messages and the last id, as EventSource does."""

    def __init__(self):
        self.received = b""  # every byte fed, as the stream sent them
        self.buffer = b""
        self.events: list[Event] = []
        self.last_id: int | None = None
        self.comments = 0

    def feed(self, part: bytes) -> None:
        self.received += part
        self.buffer += part
        while b"\n\n" in self.buffer:
            block, self.buffer = self.buffer.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    self.comments += 1
                    continue
                name, _, value = line.partition(": ")
                fields[name] = value
            if "id" in fields:
                self.last_id = int(fields["id"])
            if "data" in fields:  # an event without an id has the last one, as EventSource gives it
                self.events.append(Event(fields.get("event", "message"), self.last_id, json.loads(fields["data"])))


def cut_off(received: bytes, *, after: int) -> Parser:
    """What a client had heard of `received` when its connection dropped right after `after` messages."""
    parser = Parser()
    for block in received.split(b"\n\n"):
        if len(parser.events) == after:
            break
        parser.feed(block + b"\n\n")
    return parser


def collect(stream, *, until, meanwhile=None, timeout: float = 10) -> Parser:
    """Read the async iterator `stream` until `until(parser)` holds, running `meanwhile()` (sync) once it opened."""

    async def read() -> Parser:
        parser = Parser()
        try:
            parser.feed(await asyncio.wait_for(anext(stream), timeout))  # the opening
            if meanwhile:
                from asgiref.sync import sync_to_async

                await sync_to_async(meanwhile, thread_sensitive=False)()
            while not until(parser):
                parser.feed(await asyncio.wait_for(anext(stream), timeout))
        finally:
            await stream.aclose()
        return parser

    return async_to_sync(read)()


def listen_over_http(
    url: str, *, until, headers: dict | None = None, timeout: float = 10, parser: Parser | None = None
) -> Parser:
    """GET the stream at `url` and read it until `until(parser)` holds (each read waits at most `timeout`)."""
    parser = parser or Parser()
    with requests.get(url, headers=headers or {}, stream=True, timeout=timeout) as response:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for part in response.iter_content(chunk_size=None):
            parser.feed(part)
            if until(parser):
                break
    return parser


class Listening:
    """A client holding a stream open on a thread, as a browser would, while the test goes on."""

    def __init__(self, url: str, *, until, headers: dict | None = None, timeout: float = 30):
        import threading

        self.url = url
        self.parser = Parser()  # filled as the stream goes: a test may look at what was heard so far
        self.error: BaseException | None = None
        self.opened = threading.Event()

        def run():
            try:
                listen_over_http(
                    url, until=self._opened_and(until), headers=headers, timeout=timeout, parser=self.parser
                )
            except BaseException as error:  # handed to the test by result()
                self.error = error
            finally:
                self.opened.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.opened.wait(timeout), "the stream did not open"

    def _opened_and(self, until):
        def check(parser: Parser) -> bool:
            if parser.last_id is not None:
                self.opened.set()
            return until(parser)

        return check

    def result(self, timeout: float = 60) -> Parser:
        """The parser once `until` held; raises what the client met (a read that timed out, say)."""
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the stream did not deliver in time"
        if self.error:
            heard = [(event.topic, event.id, event.data) for event in self.parser.events]
            raise AssertionError(f"{self.url}: {self.error!r} after hearing {heard}") from self.error
        return self.parser

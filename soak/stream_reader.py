"""The live stream's reader: one more actor of the load, following a customer's orders over server-sent events.

It waits for its customer to register (the stream learns whose orders a user may
hear when it opens), then opens GET /api/queries/stream/?topics=order with that
customer's token and `Last-Event-ID: 0`, so that it hears every change to the
customer's orders from the start of the log. It keeps the last `id` it heard (a
message's, the opening's or a heartbeat's) and, whenever the connection fails, is
answered other than 200, drops or ends, it waits 0.5-1 s and opens the stream again
with `Last-Event-ID` set to that id, as a browser's EventSource would. It also
closes a stream that has been open for RESUME_EVERY_SECONDS (20-40 s) and resumes
at once, as a phone that changes networks does: every run then goes through the
resume many times, not only when a fault happens to cut the reader's own stream.

Each opening is an Exchange in the history (op `stream_connect`: its status, or 0
with the error), so a 503 or no answer counts under the checks of 503s and 500s
like any request; so is each drop of an open stream (op `stream_dropped`, status 0,
at the moment it dropped). Every message is a StreamMessage, kept for the check
(checks.stream_delivered_every_order_change) and written to stream.jsonl.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict
from pathlib import Path

import requests
import urllib3

from soak.history import Exchange, StreamMessage
from soak.load import Actor, Catalog, Client, Customer

STREAM_PATH = "/api/queries/stream/?topics=order"
CONNECT_TIMEOUT = 5.0
# Heartbeats come every STREAM_HEARTBEAT_SECONDS (15 s): a stream silent for this long is dead.
READ_TIMEOUT = 40.0
BACKOFF_SECONDS = (0.5, 1.0)
RESUME_EVERY_SECONDS = (20.0, 40.0)


class StreamReader(Actor):
    """Reads `customer`'s orders from the live stream until the run stops, reconnecting where it left off."""

    def __init__(
        self, client: Client, rng: random.Random, catalog: Catalog, customer: Customer, record: Path | None = None
    ):
        super().__init__(client, rng, catalog)
        self.customer = customer
        self.messages: list[StreamMessage] = []
        self.last_id: int | None = None  # the cursor: the last `id` heard (None until the first one)
        self.connections = 0
        self.resumed_on_purpose = 0
        self._record = record.open("a", encoding="utf-8") if record is not None else None

    @property
    def customer_id(self) -> str | None:
        return self.customer.customer_id

    def run(self, stop: threading.Event) -> None:
        while self.customer.customer_id is None and not stop.is_set():
            stop.wait(0.2)
        try:
            while not stop.is_set():
                if not self.listen(stop):
                    stop.wait(self.rng.uniform(*BACKOFF_SECONDS))
        finally:
            if self._record is not None:
                self._record.close()

    def listen(self, stop: threading.Event) -> bool:
        """One connection: open the stream after the last id heard, read it until it drops or the run stops.

        True if the reader closed it on purpose, to resume at once.
        """
        client = self.client
        resume = str(self.last_id if self.last_id is not None else 0)
        self.connections += 1
        at = client.clock()
        try:
            response = client.session.get(
                client.base_url + STREAM_PATH,
                headers={"Accept": "text/event-stream", "Last-Event-ID": resume},
                stream=True,
                timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            )
        except requests.RequestException as error:
            self._exchange("stream_connect", at, 0, error=type(error).__name__, body={"last_event_id": resume})
            return False
        with response:
            if response.status_code != 200:
                try:
                    body = response.json()
                except ValueError:
                    body = response.text[:500]
                self._exchange("stream_connect", at, response.status_code, body=body)
                return False
            self._exchange("stream_connect", at, 200, body={"last_event_id": resume})
            try:
                ending = self._read(response, stop, until=client.clock() + self.rng.uniform(*RESUME_EVERY_SECONDS))
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                self._dropped(type(error).__name__)
                return False
        if ending == "ended":
            self._dropped("stream ended")
        self.resumed_on_purpose += ending == "resume"
        return ending == "resume"

    def _read(self, response: requests.Response, stop: threading.Event, *, until: float) -> str:
        """Dispatch the stream's messages as they come, until the server ends it ("ended"), the run
        stops ("stopped") or the time comes to close it and resume ("resume")."""
        buffer = b""
        fields: dict[str, str] = {}
        for chunk in response.iter_content(chunk_size=None):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                line = line.rstrip(b"\r")
                if not line:
                    self._dispatch(fields)
                    fields = {}
                elif not line.startswith(b":"):  # a comment (the heartbeat's) is skipped
                    name, _, value = line.decode().partition(":")
                    value = value.removeprefix(" ")
                    fields[name] = f"{fields[name]}\n{value}" if name == "data" and name in fields else value
            if stop.is_set():
                return "stopped"
            if self.client.clock() >= until:
                return "resume"
        return "ended"

    def _dispatch(self, fields: dict[str, str]) -> None:
        """One message's fields: an `id` moves the cursor (with or without data); data makes a message."""
        position = int(fields["id"]) if fields.get("id", "").isdigit() else None
        if position is not None:
            self.last_id = position
        if "data" not in fields:
            return
        try:
            data = json.loads(fields["data"])
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        message = StreamMessage(
            self.client.clock(),
            self.connections,
            fields.get("event", "message"),
            position,
            str(data.get("id", "")),
            str(data.get("status", "")),
        )
        self.messages.append(message)
        if self._record is not None:
            self._record.write(json.dumps(asdict(message)) + "\n")
            self._record.flush()

    def _dropped(self, error: str) -> None:
        self._exchange("stream_dropped", self.client.clock(), 0, error=error, body={"last_event_id": self.last_id})

    def _exchange(self, op: str, at: float, status: int, *, error: str = "", body=None) -> None:
        client = self.client
        took = client.clock() - at
        client.history.record(Exchange(at, took, client.name, op, "GET", STREAM_PATH, status, body=body, error=error))

"""A small HTTP load generator: threads, each with its own keep-alive connection, for a fixed time.

http.client rather than requests: the client shares the machine's two cores with the
server, so the less CPU it burns per request the more the figures say about the server.
A server that closes the connection (gunicorn's sync workers do, after every response)
is reconnected to transparently; the reconnection is part of each request's time.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# (method, path, body, headers) for the n-th request of thread t: make(t, n)
RequestMaker = Callable[[int, int], tuple[str, str, bytes | None, dict[str, str]]]


@dataclass
class LoadResult:
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # of successful (2xx) requests, seconds
    failures: list[str] = field(default_factory=list)  # the first few unexpected bodies

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if 200 <= status < 300)

    @property
    def errors(self) -> int:
        return sum(self.statuses.values()) - self.ok

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def merge(self, other: LoadResult) -> None:
        self.seconds += other.seconds
        self.statuses.update(other.statuses)
        self.latencies.extend(other.latencies)
        self.failures.extend(other.failures[: max(0, 5 - len(self.failures))])


def percentile(values: list[float], share: float) -> float:
    """The `share` (0..1) percentile of `values`, by the nearest-rank method."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Connection:
    """One keep-alive connection, reopened whenever the server closes it; from `source`, a local address, if given."""

    def __init__(self, base_url: str, timeout: float = 60, *, source: str | None = None):
        parts = urlsplit(base_url)
        self.host, self.port, self.timeout = parts.hostname, parts.port, timeout
        self.source_address = (source, 0) if source else None
        self._connection: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout, source_address=self.source_address
                )
            try:
                self._connection.request(method, path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server had already closed: retry once on a fresh one.
                self.close()
                if attempt:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def saturate(base_url: str, make: RequestMaker, *, threads: int, seconds: float) -> LoadResult:
    """Send requests from `threads` threads back to back for `seconds`; count and time the answers."""
    results = [LoadResult() for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    deadline = 0.0

    def run(index: int) -> None:
        connection, result, n = Connection(base_url), results[index], 0
        start.wait()
        while (now := time.monotonic()) < deadline:
            method, path, body, headers = make(index, n)
            try:
                status, data = connection.request(method, path, body, headers)
            except OSError as error:
                status, data = 599, str(error).encode()
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.latencies.append(time.monotonic() - now)
            elif len(result.failures) < 5:
                result.failures.append(f"{status} {data[:300]!r}")
            n += 1
        connection.close()

    workers = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(threads)]
    for worker in workers:
        worker.start()
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for worker in workers:
        worker.join()
    total = LoadResult(seconds=time.monotonic() - began)
    for result in results:
        total.statuses.update(result.statuses)
        total.latencies.extend(result.latencies)
        total.failures.extend(result.failures[: max(0, 5 - len(total.failures))])
    return total


def timed_requests(base_url: str, requests: list[tuple[str, str, bytes | None, dict[str, str]]]) -> LoadResult:
    """Send `requests` one after another on one connection and time each (latency, not throughput)."""
    connection, result = Connection(base_url), LoadResult()
    began = time.monotonic()
    for method, path, body, headers in requests:
        sent = time.monotonic()
        status, data = connection.request(method, path, body, headers)
        result.statuses[status] += 1
        if 200 <= status < 300:
            result.latencies.append(time.monotonic() - sent)
        elif len(result.failures) < 5:
            result.failures.append(f"{status} {path} {data[:300]!r}")
    result.seconds = time.monotonic() - began
    connection.close()
    return result


class Waiters:
    """Requests kept waiting on the server, each from its own loopback address, each sent again once answered.

    A server that counts waits per client address (QUERY_WAITS_PER_CLIENT) sees as many clients as
    requests: 127.0.0.2, 127.0.0.3, ... (Linux answers the whole of 127.0.0.0/8 on the loopback).
    They start `spread` seconds apart in all, so that waits that run out do not all run out at once.
    Use as a context manager: the waits are pending inside the block.
    """

    def __init__(self, base_url: str, requests: list[tuple[str, str, bytes | None, dict[str, str]]], *, spread: float):
        self.base_url, self.requests, self.spread = base_url, requests, spread
        self.statuses: Counter = Counter()
        self.waited: list[float] = []  # how long each answer took, seconds
        self.bodies: dict[int, bytes] = {}  # the start of the first answer of each status
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Waiters:
        self._stopping.clear()
        self._threads = []
        for n, request in enumerate(self.requests):
            address, delay = f"127.0.0.{2 + n}", self.spread * n / len(self.requests)
            thread = threading.Thread(target=self._keep_waiting, args=(address, delay, request), daemon=True)
            thread.start()
            self._threads.append(thread)
        self._stopping.wait(self.spread)  # until every one has been sent
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _keep_waiting(self, address: str, delay: float, request) -> None:
        connection = Connection(self.base_url, source=address)
        self._stopping.wait(delay)
        while not self._stopping.is_set():
            sent = time.monotonic()
            try:
                status, data = connection.request(*request)
            except OSError as error:
                status, data = 599, str(error).encode()
            with self._lock:
                self.statuses[status] += 1
                self.waited.append(time.monotonic() - sent)
                self.bodies.setdefault(status, data[:200])
        connection.close()

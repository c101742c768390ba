"""The record of a run: every request and its answer, one JSON object a line, and the faults with their times.

Times are seconds since the run started (time.monotonic based), so that the checks can
compare an answer with the fault windows without any clock of the machine's.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Exchange:
    """One request and its answer (status 0: no answer, the connection failed or timed out)."""

    at: float
    took: float
    thread: str
    op: str  # the command (PlaceOrder, ...), or read_order / read_product / browse_products / command_status
    method: str
    path: str
    status: int
    correlation_id: str = ""  # the command's X-Correlation-ID: the same on every retry, found in its events
    idempotency_key: str = ""
    is_async: bool = False
    attempt: int = 1
    min_position: int | None = None  # the X-Min-Position sent
    read_position: int | None = None  # the X-Read-Position answered
    event_position: int | None = None  # the X-Event-Position answered
    expect: dict[str, list[Any]] = field(default_factory=dict)  # field -> the values a read of our own write may show
    body: Any = None
    error: str = ""

    @property
    def finished(self) -> float:
        return self.at + self.took


@dataclass
class StreamMessage:
    """One message the live stream's reader received: its topic, its `id` (a log position), whose row and its status."""

    at: float
    connection: int  # the reader's connection it came on: 1, then one more at each reconnection
    topic: str
    position: int | None
    order_id: str = ""
    status: str = ""


@dataclass
class Fault:
    """One injected fault: when it started, when it was healed, and when every follower had caught up again."""

    kind: str
    detail: str
    started: float
    healed: float | None = None
    caught_up: float | None = None  # None: not before the next fault (or the end)

    @property
    def heal_seconds(self) -> float | None:
        return None if self.healed is None else self.healed - self.started

    @property
    def catch_up_seconds(self) -> float | None:
        return None if self.caught_up is None or self.healed is None else self.caught_up - self.healed


class History:
    """Appends exchanges to a JSON-lines file as they happen, and keeps them for the checks."""

    def __init__(self, path: Path):
        self.path = path
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def record(self, exchange: Exchange) -> None:
        line = json.dumps(asdict(exchange), default=str)
        with self._lock:
            self.exchanges.append(exchange)
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def load_history(path: Path) -> list[Exchange]:
    """The exchanges of a JSON-lines history, as written by History."""
    with path.open(encoding="utf-8") as lines:
        return [Exchange(**json.loads(line)) for line in lines if line.strip()]

"""The checks after a run: each takes what the run recorded (and what the databases hold) and returns its violations.

Pure functions of plain data, so that each is tested on a tiny made-up history
(tests/soak/test_checks.py); soak/evidence.py gathers the data from the databases.
A violation is a sentence saying what broke; a clean run has none.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from soak.history import Exchange, Fault, StreamMessage

ACKNOWLEDGED, REFUSED, UNKNOWN = "acknowledged", "refused", "unknown"
# Every command of the shop records exactly one event (handlers.py: one event per _record).
EVENTS_PER_COMMAND = 1
# 429 (throttled, or too many waits) refuses before the command runs, like a 503: its outcome is not a refusal.
NOT_A_REFUSAL = {429}
# An order's status right after each event that changes it (projections/orders.py).
ORDER_STATUS_AFTER = {
    "OrderPlaced": "placed",
    "OrderPaid": "paid",
    "OrderShipped": "shipped",
    "OrderCancelled": "cancelled",
}


@dataclass(frozen=True)
class LoggedEvent:
    """What the checks need of one event in the log."""

    position: int
    type: str
    correlation_id: str
    data: dict


@dataclass(frozen=True)
class Email:
    """An e-mail owed by the log, or one copy of a message delivered: what the receiver tells them apart by."""

    message_id: str
    subject: str


def command_outcomes(history: Iterable[Exchange]) -> dict[str, str]:
    """Each command's outcome, by correlation id: acknowledged, refused or unknown.

    Acknowledged: some answer was 200/201, or its status resource said succeeded. Refused: it
    was not acknowledged, and an answer was a 4xx or its status said refused. Unknown: no
    answer said either (every try timed out, lost its connection or was answered 503).
    """
    outcomes: dict[str, str] = {}
    for exchange in history:
        if not exchange.correlation_id:
            continue
        outcome = _outcome_of(exchange)
        previous = outcomes.get(exchange.correlation_id, UNKNOWN)
        if previous == ACKNOWLEDGED or outcome == UNKNOWN:
            outcomes.setdefault(exchange.correlation_id, previous)
        else:
            outcomes[exchange.correlation_id] = outcome
    return outcomes


def _outcome_of(exchange: Exchange) -> str:
    if exchange.op == "command_status":
        state = exchange.body.get("status") if isinstance(exchange.body, dict) else None
        return {"succeeded": ACKNOWLEDGED, "refused": REFUSED}.get(state, UNKNOWN)
    if exchange.status in (200, 201):
        return ACKNOWLEDGED
    if 400 <= exchange.status < 500 and exchange.status not in NOT_A_REFUSAL:
        return REFUSED
    return UNKNOWN


def _events_by_command(events: Iterable[LoggedEvent]) -> Counter:
    return Counter(event.correlation_id for event in events)


def acknowledged_commands_recorded_once(history: list[Exchange], events: list[LoggedEvent]) -> list[str]:
    """Every command answered 2xx (or whose async status said succeeded) has its event in the log exactly once."""
    recorded = _events_by_command(events)
    violations = []
    for correlation_id, outcome in command_outcomes(history).items():
        count = recorded[correlation_id]
        if outcome == ACKNOWLEDGED and count != EVENTS_PER_COMMAND:
            violations.append(f"command {correlation_id} was acknowledged but has {count} events in the log")
        elif outcome == UNKNOWN and count > EVENTS_PER_COMMAND:
            violations.append(f"command {correlation_id} (outcome unknown) has {count} events in the log")
    return violations


def refused_commands_recorded_nothing(history: list[Exchange], events: list[LoggedEvent]) -> list[str]:
    """No command answered 4xx (or whose async status said refused) has any event in the log."""
    recorded = _events_by_command(events)
    return [
        f"command {correlation_id} was refused but has {recorded[correlation_id]} events in the log"
        for correlation_id, outcome in command_outcomes(history).items()
        if outcome == REFUSED and recorded[correlation_id]
    ]


def no_server_errors(history: list[Exchange]) -> list[str]:
    """No answer was a 5xx other than 503, and no asynchronous command failed (its status: failed)."""
    violations = []
    for exchange in history:
        if exchange.status >= 500 and exchange.status != 503:
            violations.append(f"{exchange.status} at {exchange.at:.1f}s: {exchange.method} {exchange.path}")
        elif (
            exchange.op == "command_status"
            and isinstance(exchange.body, dict)
            and exchange.body.get("status") == "failed"
        ):
            violations.append(f"async command {exchange.correlation_id} failed: {exchange.body.get('error')}")
    return violations


def unavailable_only_during_faults(history: list[Exchange], faults: list[Fault], *, grace: float) -> list[str]:
    """Every 503, and every request that got no answer, overlaps a fault, from its start to `grace` after its heal."""
    windows = [(fault.started, _healed(fault) + grace) for fault in faults]
    violations = []
    for exchange in history:
        if exchange.status not in (0, 503):
            continue
        if not any(start <= exchange.finished and exchange.at <= end for start, end in windows):
            answer = exchange.status or f"no answer ({exchange.error})"
            code = exchange.body.get("code") if isinstance(exchange.body, dict) else ""
            violations.append(
                f"{answer} {code} outside any fault, at {exchange.at:.1f}s: {exchange.method} {exchange.path}".replace(
                    "  ", " "
                )
            )
    return violations


def _healed(fault: Fault) -> float:
    return fault.healed if fault.healed is not None else float("inf")


def unavailable_windows(history: list[Exchange], *, gap: float = 2.0) -> list[tuple[float, float, int]]:
    """The spans of time with 503s or unanswered requests: (from, to, how many), a span ending after `gap` s of none."""
    times = sorted((e.at, e.finished) for e in history if e.status in (0, 503))
    windows: list[list[float]] = []
    for start, end in times:
        if windows and start <= windows[-1][1] + gap:
            windows[-1][1] = max(windows[-1][1], end)
            windows[-1][2] += 1
        else:
            windows.append([start, end, 1])
    return [(start, end, int(count)) for start, end, count in windows]


def own_writes_visible(history: list[Exchange]) -> list[str]:
    """A read that sent its own write's position was at that position or beyond, and showed that write."""
    violations = []
    for exchange in history:
        if exchange.min_position is None or exchange.status != 200:
            continue
        if exchange.read_position is None or exchange.read_position < exchange.min_position:
            violations.append(
                f"read {exchange.path} at {exchange.at:.1f}s asked for #{exchange.min_position} "
                f"and was answered at #{exchange.read_position}"
            )
            continue
        for name, allowed in exchange.expect.items():
            shown = exchange.body.get(name) if isinstance(exchange.body, dict) else None
            if not _one_of(shown, allowed):
                violations.append(
                    f"read {exchange.path} at {exchange.at:.1f}s (min #{exchange.min_position}) showed "
                    f"{name}={shown!r}, expected one of {allowed!r}"
                )
    return violations


def _one_of(shown, allowed: list) -> bool:
    try:
        return any(Decimal(str(shown)) == Decimal(str(value)) for value in allowed)
    except ArithmeticError:
        return shown in allowed


def stock_never_negative(history: list[Exchange], final_stock: dict[str, int]) -> list[str]:
    """No product read during the run showed negative stock, and none holds negative stock at the end."""
    violations = [
        f"product {product} ends with stock {stock}" for product, stock in sorted(final_stock.items()) if stock < 0
    ]
    for exchange in history:
        for row in _products_in(exchange):
            if row.get("stock_available", 0) < 0:
                violations.append(f"{exchange.path} at {exchange.at:.1f}s showed stock {row['stock_available']}")
    return violations


def _products_in(exchange: Exchange) -> list[dict]:
    if exchange.status != 200 or exchange.op not in ("read_product", "browse_products"):
        return []
    body = exchange.body
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        return [row for row in body["results"] if isinstance(row, dict)]
    return [body] if isinstance(body, dict) else []


def units_sold_match_orders(events: list[LoggedEvent], units_sold: dict[str, int]) -> list[str]:
    """Each product's units sold equals the quantities of its order lines placed minus those cancelled."""
    expected: dict[str, int] = defaultdict(int)
    for event in events:
        sign = {"OrderPlaced": 1, "OrderCancelled": -1}.get(event.type)
        if sign:
            for line in event.data.get("lines", []):
                expected[str(line["product_id"])] += sign * int(line["quantity"])
    return [
        f"product {product} shows {units_sold.get(product, 0)} units sold; its orders say {expected.get(product, 0)}"
        for product in sorted(set(expected) | set(units_sold))
        if units_sold.get(product, 0) != expected.get(product, 0)
    ]


def emails_sent_once(owed: list[Email], sent: list[Email]) -> list[str]:
    """Every e-mail owed was delivered under its one Message-ID, with its subject, and nothing else was delivered.

    Copies of one Message-ID are one e-mail, as the receiver's mail system sees them (a
    resend after a sender died mid-send; resends_collapsed counts them). An owed e-mail
    also delivered under another Message-ID reaches the receiver twice: that Message-ID
    is owed by nothing.
    """
    owed_by_id = {email.message_id: email for email in owed}
    owed_subjects = {email.subject for email in owed}
    subjects_sent: dict[str, set[str]] = defaultdict(set)
    for email in sent:
        subjects_sent[email.message_id].add(email.subject)
    violations = []
    for message_id, email in sorted(owed_by_id.items()):
        subjects = subjects_sent.get(message_id)
        if subjects is None:
            violations.append(f"e-mail {email.subject!r} ({message_id}) was never sent")
        elif subjects != {email.subject}:
            violations.append(f"e-mail {message_id} is owed as {email.subject!r} and was sent as {sorted(subjects)}")
    for message_id in sorted(set(subjects_sent) - set(owed_by_id), key=str):
        for subject in sorted(subjects_sent[message_id]):
            again = ", a second Message-ID for an e-mail owed" if subject in owed_subjects else ""
            violations.append(f"e-mail {subject!r} was sent as {message_id}, which no e-mail owed has{again}")
    return violations


def resends_collapsed(sent: list[Email]) -> int:
    """The copies sent beyond the first of each Message-ID: resends the receiver sees as one e-mail."""
    return len(sent) - len({email.message_id for email in sent})


def followers_caught_up(catch_up_seconds: float | None, *, limit: float) -> list[str]:
    """Once the faults stopped, every follower reached the head of the log within `limit` seconds."""
    if catch_up_seconds is None:
        return [f"the followers did not reach the head of the log within {limit:.0f} s of the last fault"]
    if catch_up_seconds > limit:
        return [f"the followers took {catch_up_seconds:.1f} s to reach the head of the log (limit {limit:.0f} s)"]
    return []


def read_models_match_a_rebuild(differences: dict[str, int]) -> list[str]:
    """verify_projections is clean: every read model equals its rebuild (differences by projection)."""
    return [f"{name}: {count} rows differ from a rebuild" for name, count in sorted(differences.items()) if count]


def async_commands_finished(history: list[Exchange]) -> list[str]:
    """Every asynchronous command accepted (202) reached an outcome: its status said succeeded or refused at last."""
    accepted = {e.correlation_id for e in history if e.is_async and e.status == 202}
    finished = {
        e.correlation_id
        for e in history
        if e.op == "command_status" and isinstance(e.body, dict) and e.body.get("status") in ("succeeded", "refused")
    }
    return [f"async command {command} was accepted and never finished" for command in sorted(accepted - finished)]


def stream_delivered_every_order_change(
    events: list[LoggedEvent], messages: list[StreamMessage], *, customer_id: str | None, last_position: int | None
) -> list[str]:
    """The live stream's reader heard every change to its customer's orders up to its cursor, once, in order, right.

    `messages` are what the reader received on the `order` topic across all its
    connections, each resumed with Last-Event-ID; `last_position` is its cursor at
    the end (the last `id` heard: a message's, an opening's or a heartbeat's, each
    meaning the stream had sent everything up to it). The log's events of the
    customer's orders up to that cursor must each have been delivered; a resume
    after P sends only what comes after P and one event changes one order, so the
    positions heard strictly increase (a repeat is a duplicate); and each message
    carries the order of its event with the status that event leaves it in.
    """
    if customer_id is None or last_position is None:
        return [
            "the stream reader never heard from the live stream (its customer never registered, or no stream opened)"
        ]
    owed = {
        event.position: event
        for event in events
        if event.type in ORDER_STATUS_AFTER and str(event.data.get("customer_id")) == str(customer_id)
    }
    violations = []
    delivered: set[int] = set()
    previous: int | None = None
    for message in messages:
        if message.topic != "order":
            violations.append(f"a {message.topic!r} message at {message.at:.1f}s on a stream of topics=order")
            continue
        if message.position is None:
            violations.append(f"an order message without an id at {message.at:.1f}s (order {message.order_id})")
            continue
        if previous is not None and message.position <= previous:
            again = "again" if message.position in delivered else "out of order"
            violations.append(
                f"#{message.position} delivered {again} after #{previous}, at {message.at:.1f}s "
                f"(connection {message.connection})"
            )
        previous = message.position if previous is None else max(previous, message.position)
        delivered.add(message.position)
        event = owed.get(message.position)
        if event is None:
            violations.append(
                f"#{message.position} (order {message.order_id}, {message.status}) delivered at {message.at:.1f}s "
                f"is no change to customer {customer_id}'s orders in the log"
            )
        elif message.order_id != str(event.data.get("order_id")) or message.status != ORDER_STATUS_AFTER[event.type]:
            violations.append(
                f"#{message.position} delivered order {message.order_id} {message.status}; the log's {event.type} "
                f"leaves order {event.data.get('order_id')} {ORDER_STATUS_AFTER[event.type]}"
            )
    violations += [
        f"#{position} ({event.type} of order {event.data.get('order_id')}) was never delivered "
        f"(the reader's cursor reached #{last_position})"
        for position, event in sorted(owed.items())
        if position <= last_position and position not in delivered
    ]
    return violations

"""Benchmark 9's waits: a plain read's latency with 50 requests waiting on an unreached X-Min-Position.

One restock appended and not projected (no Celery worker runs) makes a position the read models
have not reached. 50 requests for a customer's orders wait for it, each sent again once it is
answered (a 503 once QUERY_MIN_POSITION_WAIT_SECONDS run out), each with its own customer's token
and from its own loopback address: QUERY_WAITS_PER_CLIENT counts waits per address, and keeps its
default. A plain read over one connection, with them pending and without, in alternating rounds:
its latency must rise by less than 50 ms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench import wrk
from bench.load import Waiters, median
from bench.profiling import spy_report, start_spy
from bench.report import Figure

WAITERS = 50
RISE_TARGET_MS = 50.0
WAITS = ("none pending", f"{WAITERS} pending")


@dataclass
class Waited:
    rounds: wrk.Rounds
    position: int
    waiters: Waiters
    profile: list[str]


def waiting_requests(tokens: list[str], position: int) -> list[tuple[str, str, None, dict[str, str]]]:
    """Requests for a customer's orders at `position` at least, one for each of the first WAITERS tokens."""
    return [
        ("GET", "/api/queries/orders/", None, {"Authorization": f"Token {token}", "X-Min-Position": str(position)})
        for token in tokens[:WAITERS]
    ]


def measure_waits(url: str, server_pid: int, tokens: list[str], read: Path, *, rounds: int, seconds: int) -> Waited:
    """The plain `read` over one connection, without waits pending and with them, in alternating rounds.

    Then py-spy samples the web workers during as much again with them pending (not measured).
    """
    from django.conf import settings

    position = _unreached_position()
    measured = wrk.Rounds()
    # They start spread over the wait's limit, so that their waits do not all run out at once.
    waiters = Waiters(url, waiting_requests(tokens, position), spread=settings.QUERY_MIN_POSITION_WAIT_SECONDS)
    for _ in range(rounds):
        measured.add(WAITS[0], wrk.measure(url, read, seconds=seconds, connections=1))
        with waiters:
            measured.add(WAITS[1], wrk.measure(url, read, seconds=seconds, connections=1))
    with waiters:
        spy = start_spy(server_pid, seconds, rate=100, subprocesses=True)
        wrk.measure(url, read, seconds=seconds, connections=1)
        profile = spy_report(spy)
    return Waited(measured, position, waiters, profile)


def _unreached_position() -> int:
    """Append one restock the read models will not see (no worker runs); return its position, now the head."""
    from django.contrib.auth.models import User

    from commands.commands import RestockProduct
    from commands.eventlog import head_position
    from commands.handlers import dispatch
    from commands.models import Product

    staff, _ = User.objects.get_or_create(username="bench-stock-keeper", defaults={"is_staff": True, "password": "!"})
    product = Product.objects.filter(discontinued=False).order_by("sku").first()
    dispatch(RestockProduct(product_id=product.id, quantity=1), staff)
    return head_position()


def catch_up() -> None:
    """Project the restock, so that the read models are at the head again for the benchmarks after this one."""
    from projections.runner import catch_up_projections

    catch_up_projections()


def figures(name: str, waited: Waited) -> list[Figure]:
    """p50 and p99 of the plain read with the waits pending, each against the same without them."""
    none, pending = WAITS
    measured = []
    for label, figure in (("p50", wrk.P50), ("p99", wrk.P99)):
        value, baseline = waited.rounds.median(pending, figure), waited.rounds.median(none, figure)
        measured.append(
            Figure(
                "9",
                f"{name}, one connection, {WAITERS} X-Min-Position waits pending: {label}",
                value,
                "ms",
                none,
                baseline,
                target=f"rise < {RISE_TARGET_MS:g} ms",
                met=value - baseline < RISE_TARGET_MS,
            )
        )
    return measured


def details(name: str, waited: Waited) -> list[str]:
    waiters = waited.waiters
    answers = ", ".join(f"{count} x {status}" for status, count in sorted(waiters.statuses.items()))
    bodies = "; ".join(f"{status}: {body.decode(errors='replace')}" for status, body in sorted(waiters.bodies.items()))
    return [
        f"- Waits: {WAITERS} requests for a customer's orders, each with its own customer's token and from its own "
        "loopback address (so QUERY_WAITS_PER_CLIENT keeps its default), with X-Min-Position "
        f"{waited.position}: a restock the read models have not projected. Each is sent again as soon as it is "
        f"answered; they started spread over the wait's limit. Answers: {answers}, after "
        f"{median(waiters.waited):.2f} s (median); the first of each status: {bodies}.",
        f"- {name} over one connection, p50 of each round without / with them: "
        f"{waited.rounds.by_round(*WAITS, figure=wrk.P50, digits=2)} ms.",
        "",
        "| waits | requests/s | ok | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
        *(waited.rounds.row(waits, waits) for waits in WAITS),
        "",
        f"Profile of the web workers during one round more of {name} over one connection with the {WAITERS} waits "
        "pending (py-spy, not measured):",
        "",
        *waited.profile,
    ]

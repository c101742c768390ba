"""`python -m soak` (`make soak`): mixed load on the shop as deployed while faults come every 20-40 s; then the checks.

Creates <prefix>_write and <prefix>_read (dropped at the end unless --keep), a private
redis-server, the web server, one worker per queue group and beat; stops and starts the
streaming replica on 5433 as one of its faults and always leaves it running. Writes the
history (JSON lines) and the logs to a temporary folder, the report to soak/results/<date>.md
(or --report), and exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.environment import POSTGRES, Databases
from soak import checks, evidence, report
from soak.faults import (
    FAULT_NAMES,
    FaultInjector,
    bring_back_the_replica,
    replica_folder,
    replica_streams,
    wal_kept_for_the_replica,
)
from soak.history import History
from soak.shop import Shop, wait_for
from tests.processes import AS_DEPLOYED, PROJECT, Services, process_environment

CUSTOMERS = 4  # one thread each, with the staff's thread: five threads of load (and the stream's reader)
# 503s and unanswered requests are allowed from a fault's start to this long after its heal: a replica
# left out is retried after READ_REPLICA_RETRY_SECONDS (5 s), and a request waits up to 2 s for a position.
GRACE_SECONDS = 10.0
CATCH_UP_LIMIT_SECONDS = 60.0
# Async commands still accepted at the end run within the sweep's 30 s plus its 10 s interval.
PENDING_ASYNC_SECONDS = 90.0
# Beyond the e-mail sweep's lease and interval: an e-mail whose sender was killed goes out again within these.
OUTBOX_MARGIN_SECONDS = 20.0


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="How long the load and the faults last.")
    parser.add_argument("--seed", type=int, default=1, help="Seeds the load and the faults' order and timing.")
    parser.add_argument("--database-prefix", default="soak", help="Databases are <prefix>_write, <prefix>_read.")
    parser.add_argument("--report", type=Path, default=None, help="Where to write the report (soak/results/<date>.md).")
    parser.add_argument(
        "--faults",
        default="",
        help=f"Comma-separated kinds of fault to inject (default: all of {', '.join(FAULT_NAMES)}).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the databases afterwards.")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    started_at = datetime.now(UTC)
    log_dir = Path(tempfile.mkdtemp(prefix="soak-"))
    databases = Databases(args.database_prefix)
    services = Services(log_dir)
    folder = replica_folder()
    replica_at_start = "streaming" if replica_streams() else "running, but not streaming or not accepting connections"
    replica_left = ""
    print(f"soak: {args.minutes:g} min, seed {args.seed}; logs and history in {log_dir}", flush=True)
    shop = None
    try:
        environment = soak_environment(databases, log_dir)
        os.environ.update({**environment, "READ_REPLICA_URLS": ""})  # the soak itself reads the primaries
        databases.create()
        tokens = _set_up_django()
        shop = Shop(services, {**environment, "REDIS_URL": ""}, log_dir)
        os.environ["REDIS_URL"] = shop.redis_url
        shop.start(f"postgres://postgres@127.0.0.1:{shop.read_proxy.port}/{databases.read}")
        outcome = soak(args, shop, tokens, databases, log_dir, folder)
    finally:
        if shop is not None:
            shop.stop()
        with wal_kept_for_the_replica():  # other people's tests read from it: it must stream again
            replica_left = bring_back_the_replica(folder)
        if replica_left:
            print(f"soak: WARNING: {replica_left}; `scripts/replica start` (REPLICA_DIR={folder})", file=sys.stderr)
        if not args.keep:
            databases.drop()
    settings = {
        "started": started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "command": f"python -m soak --minutes {args.minutes:g} --seed {args.seed}",
        "machine": f"{os.cpu_count()} cores, shared with other engineers' work; load average (1, 5, 15 min) "
        f"at the end {report.load_average()}",
        "shop": "scripts/serve (gunicorn, 2 uvicorn workers); Celery workers projections / notifications,cache / "
        "rebuilds / commands (-c 1 each); beat; private redis-server; read primary through a TcpProxy; "
        "streaming replica on 5433",
        "load": f"{CUSTOMERS} customer threads and 1 staff thread, pausing 0.1-0.4 s between steps; 1 thread "
        "reading the first customer's orders from the live stream",
        "503 grace after a heal": f"{GRACE_SECONDS:.0f} s",
        "replica on 5433 at the start": replica_at_start,
        "result": "clean" if outcome.clean else "VIOLATIONS",
    }
    if replica_left:
        outcome.violations["the replica streams again at the end"] = [replica_left]
    text = report.render(outcome, title=f"Chaos soak of {started_at:%Y-%m-%d}", settings=settings, grace=GRACE_SECONDS)
    path = args.report or PROJECT / "soak" / "results" / f"{started_at:%Y-%m-%d}.md"
    print(text)
    print(f"report: {report.write(text, path)}; history: {log_dir / 'history.jsonl'}")
    return 0 if outcome.clean else 1


def soak_environment(databases: Databases, log_dir: Path) -> dict[str, str]:
    """The environment of the processes, as deployed (docker-compose.yml) but for the e-mail, kept in files."""
    return process_environment(
        database_url=databases.url(databases.write),
        read_database_url=databases.url(databases.read),
        redis_url="",
        settings_module="config.settings",
        READ_REPLICA_URLS=f"postgres://postgres@127.0.0.1:5433/{databases.read}",
        **AS_DEPLOYED,  # five threads from one address would be throttled at the default rates
        SECRET_KEY="soak-only-" + "0" * 40,
        LOG_LEVEL="WARNING",
        # Each message a file: the check counts what was sent.
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(log_dir / "mail"),
    )


def _set_up_django() -> dict[str, str]:
    """Migrate both databases and make the staff user and the customers' users; their tokens by username."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    call_command("migrate", database="read", verbosity=0)
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    users = [User.objects.create(username="soak-staff", is_staff=True, password="!")]
    users += [User.objects.create(username=f"soak-customer-{n}", password="!") for n in range(CUSTOMERS)]
    return {user.username: Token.objects.create(user=user, key=secrets.token_hex(20)).key for user in users}


def soak(args, shop: Shop, tokens: dict[str, str], databases: Databases, log_dir: Path, folder: str):
    import random

    from soak.load import Catalog, Client, Customer, Staff
    from soak.stream_reader import StreamReader

    began = time.monotonic()

    def clock() -> float:
        return time.monotonic() - began

    history = History(log_dir / "history.jsonl")
    catalog = Catalog()

    def client(username: str) -> Client:
        return Client(shop.base_url, tokens[username], history, clock, username)

    staff = Staff(client("soak-staff"), random.Random(args.seed), catalog)
    staff.stock_the_shop()
    customers = [
        Customer(client(f"soak-customer-{n}"), random.Random(args.seed * 1000 + n), catalog, f"soak-customer-{n}")
        for n in range(CUSTOMERS)
    ]
    # The first customer's orders, heard on the live stream with that customer's token.
    reader_client = Client(shop.base_url, tokens[customers[0].username], history, clock, "soak-stream-reader")
    reader = StreamReader(
        reader_client, random.Random(args.seed * 1000 + 999), catalog, customers[0], log_dir / "stream.jsonl"
    )
    actors = [staff, *customers, reader]
    seconds = args.minutes * 60
    faults = FaultInjector(
        shop,
        seed=args.seed,
        clock=clock,
        until=seconds,
        write_database_url=databases.url(databases.write),
        followers_at_head=evidence.followers_at,
        head=evidence.head,
        replica_folder=folder,
        kinds=[kind.strip() for kind in args.faults.split(",") if kind.strip()],
    )
    stop = threading.Event()
    threads = [
        threading.Thread(target=actor.run, args=(stop,), name=actor.client.name, daemon=True) for actor in actors
    ]
    for thread in threads:
        thread.start()
    faults.start()
    time.sleep(max(0.0, seconds - clock()))
    stop.set()
    reader_thread = threads[actors.index(reader)]
    for thread in threads:
        if thread is not reader_thread:
            thread.join()
    faults.stop()
    load_seconds = clock()
    print(f"[{load_seconds:6.1f}s] load stopped; waiting for the followers", flush=True)

    head = evidence.head()
    final_catch_up = None
    if wait_for(lambda: evidence.followers_at(head), timeout=CATCH_UP_LIMIT_SECONDS):
        final_catch_up = clock() - load_seconds
    for actor in actors:
        actor.client.finish_pending(PENDING_ASYNC_SECONDS)
    # Joined last: it sees the run stop only when its stream next says something (a heartbeat, within 15 s).
    reader_thread.join()
    wait_for(lambda: evidence.followers_at(evidence.head()), timeout=CATCH_UP_LIMIT_SECONDS)
    # A notifications worker killed mid-send left its e-mails "sending": beat's sweep sends them again once
    # their claims' lease has lapsed (EMAIL_SENDING_LEASE_SECONDS), so the check waits as long for them.
    outbox_waited = clock()
    outbox_drained = wait_for(lambda: not _outbox_unfinished(), timeout=_outbox_timeout())
    outbox_waited = clock() - outbox_waited
    history.close()

    exchanges = history.exchanges
    events = evidence.logged_events()
    not_sent = evidence.outbox_not_sent()
    emails_sent = evidence.emails_sent(log_dir / "mail")
    violations = {
        "every acknowledged command's event is in the log exactly once": checks.acknowledged_commands_recorded_once(
            exchanges, events
        ),
        "no refused command has an event": checks.refused_commands_recorded_nothing(exchanges, events),
        "every async command finished": checks.async_commands_finished(exchanges),
        "no 500s": checks.no_server_errors(exchanges),
        f"503s only during a fault (+{GRACE_SECONDS:.0f} s)": checks.unavailable_only_during_faults(
            exchanges, faults.faults, grace=GRACE_SECONDS
        ),
        "reads of one's own write saw it": checks.own_writes_visible(exchanges),
        "stock never negative": checks.stock_never_negative(exchanges, evidence.final_stock()),
        "units sold = placed - cancelled order lines": checks.units_sold_match_orders(events, evidence.units_sold()),
        "every e-mail owed sent exactly once (copies of one Message-ID collapsed)": checks.emails_sent_once(
            evidence.emails_owed(events), emails_sent
        )
        + [f"{count} e-mail(s) left {state} in the outbox" for state, count in not_sent.items()],
        f"followers at the head within {CATCH_UP_LIMIT_SECONDS:.0f} s": checks.followers_caught_up(
            final_catch_up, limit=CATCH_UP_LIMIT_SECONDS
        ),
        "verify_projections clean": checks.read_models_match_a_rebuild(evidence.drift()),
        "the live stream delivered every change to its reader's orders, once, in order": (
            checks.stream_delivered_every_order_change(
                events, reader.messages, customer_id=reader.customer_id, last_position=reader.last_id
            )
        ),
        "fault injection ran": [f"the fault thread failed: {faults.error!r}"] if faults.error else [],
    }
    notes = [f"{len(events):,} events in the log; postgres at {POSTGRES}"]
    notes.append(
        f"the stream reader followed {customers[0].username} (customer {reader.customer_id}); its cursor ended at "
        f"#{reader.last_id}, having closed its stream {reader.resumed_on_purpose} time(s) to resume; messages in "
        f"{log_dir / 'stream.jsonl'}"
    )
    notes.append(
        f"the outbox had no e-mail pending or sending {outbox_waited:.1f} s after the followers' last catch-up"
        if outbox_drained
        else f"the outbox still had e-mails pending or sending after {outbox_waited:.1f} s"
    )
    return report.Outcome(
        load_seconds,
        exchanges,
        faults.faults,
        final_catch_up,
        violations,
        notes,
        stream_messages=len(reader.messages),
        emails_sent=len(emails_sent),
        resends_collapsed=checks.resends_collapsed(emails_sent),
    )


def _outbox_unfinished() -> bool:
    return bool(set(evidence.outbox_not_sent()) - {"failed"})


def _outbox_timeout() -> float:
    from django.conf import settings

    sweep = settings.CELERY_BEAT_SCHEDULE["sweep-outbox"]["schedule"]
    return settings.EMAIL_SENDING_LEASE_SECONDS + sweep + OUTBOX_MARGIN_SECONDS


if __name__ == "__main__":
    sys.exit(main())

"""The faults: one every 20-40 s, chosen by the run's seed, each healed as production would heal it, and timed.

Every kind comes round once in a seeded order before any comes again, so that even a
short run meets several kinds. A fault is recorded from when it started to when it was
healed (the process back and ready, the connection accepted again, the lock released),
then the run measures how long the followers took to reach the head of the log as it
stood at the heal.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import psycopg

from soak.history import Fault
from soak.shop import WORKER_QUEUES, Shop, wait_for
from tests.processes import PROJECT

FAULT_INTERVAL = (20.0, 40.0)
READ_PRIMARY_OUTAGE_SECONDS = 10.0
APPEND_LOCK_SECONDS = 5.0
REPLICA_DOWN_SECONDS = 5.0
# A fault is only started if it has this long to heal before the load stops.
LONGEST_FAULT_SECONDS = 30.0


FAULT_NAMES = {
    "web": "kill a web process",
    "projections": "kill the projections worker",
    "side-effects": "kill the notifications,cache worker",
    "rebuilds": "kill the rebuilds worker",
    "commands": "kill the commands worker",
    "beat": "kill beat",
    "redis": "restart Redis (its data lost)",
    "replica": "stop and start the replica",
    "read-primary": "the read primary refuses connections",
    "append-lock": "a transaction holds the append lock",
}


class FaultInjector:
    """Injects faults into `shop` on a thread until told to stop; `faults` is their record."""

    def __init__(
        self,
        shop: Shop,
        *,
        seed: int,
        clock: Callable[[], float],
        until: float,
        write_database_url: str,
        followers_at_head: Callable[[int], bool],
        head: Callable[[], int],
        replica_folder: str,
        kinds: list[str] | None = None,
    ):
        self.shop = shop
        self.random = random.Random(seed)
        self.clock = clock
        self.until = until
        self.write_database_url = write_database_url
        self.followers_at_head = followers_at_head
        self.head = head
        self.replica_folder = replica_folder
        self.faults: list[Fault] = []
        every_kind = {
            "web": self.kill_web_process,
            **{name: self._killer(name) for name in WORKER_QUEUES},
            "beat": self._killer("beat"),
            "redis": self.restart_redis,
            "replica": self.restart_replica,
            "read-primary": self.refuse_read_primary,
            "append-lock": self.hold_append_lock,
        }
        unknown = set(kinds or ()) - set(every_kind)
        if unknown:
            raise ValueError(f"no such fault: {', '.join(sorted(unknown))} (there are {', '.join(every_kind)})")
        self.kinds = {name: act for name, act in every_kind.items() if not kinds or name in kinds}
        self._order: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults", daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _next_kind(self) -> str:
        if not self._order:
            self._order = list(self.kinds)
            self.random.shuffle(self._order)
        return self._order.pop()

    def _run(self) -> None:
        try:
            while True:
                at = self.clock() + self.random.uniform(*FAULT_INTERVAL)
                if at + LONGEST_FAULT_SECONDS > self.until or self._stop.wait(max(0.0, at - self.clock())):
                    return
                self._inject(self._next_kind())
        except BaseException as error:  # the run reports it and fails; the load goes on without faults
            self.error = error

    def _inject(self, kind: str) -> None:
        fault = Fault(kind=FAULT_NAMES[kind], detail="", started=self.clock())
        self.faults.append(fault)
        print(f"[{fault.started:6.1f}s] fault: {fault.kind}", flush=True)
        fault.detail = self.kinds[kind]()
        fault.healed = self.clock()
        head = self.head()
        # Until the next fault could start: beyond that, "caught up" would measure two faults at once.
        if wait_for(lambda: self.followers_at_head(head), timeout=FAULT_INTERVAL[0]):
            fault.caught_up = self.clock()
        print(
            f"[{fault.healed:6.1f}s] healed after {fault.heal_seconds:.1f} s ({fault.detail}); caught up: "
            + (f"{fault.catch_up_seconds:.1f} s" if fault.catch_up_seconds is not None else "not within 20 s"),
            flush=True,
        )

    # --- the faults: each returns what it did, once healed ----------------------------------

    def kill_web_process(self) -> str:
        victim = self.random.choice(self.shop.web_processes())
        marks = self.shop.ready_marks("web")
        os.kill(victim, signal.SIGKILL)
        # gunicorn's arbiter notices and starts another: production's own supervisor of web processes.
        self.shop.wait_until_ready("web", marks_before=marks)
        return f"SIGKILL web process {victim}; gunicorn started another, ready to serve"

    def _killer(self, name: str) -> Callable[[], str]:
        def kill() -> str:
            marks = self.shop.ready_marks(name)
            pid = self.shop.kill(name)
            self.shop.wait_until_ready(name, marks_before=marks)
            return f"SIGKILL {name} (pid {pid}, its process group); the supervisor started it again"

        return kill

    def restart_redis(self) -> str:
        pid = self.shop.kill("redis")
        self.shop.wait_until_ready("redis", marks_before=0)
        return f"SIGKILL redis-server (pid {pid}, nothing saved); the supervisor started an empty one"

    def restart_replica(self) -> str:
        blocker = long_transaction_on_the_primary()
        if blocker:
            # A standby started while such a transaction is open may refuse connections until it ends
            # (seen: another test session's 14-minute transaction of thousands of savepoints): not ours to stop.
            return f"skipped: {blocker}, so the shared replica might not accept connections again until it ended"
        with wal_kept_for_the_replica():
            replica("stop", self.replica_folder)
            try:
                time.sleep(REPLICA_DOWN_SECONDS)
            finally:
                problem = bring_back_the_replica(self.replica_folder)
        if problem:
            raise RuntimeError(problem)
        return f"scripts/replica stop, {REPLICA_DOWN_SECONDS:.0f} s, scripts/replica start (streaming again)"

    def refuse_read_primary(self) -> str:
        self.shop.read_proxy.cut()
        try:
            time.sleep(READ_PRIMARY_OUTAGE_SECONDS)
        finally:
            self.shop.read_proxy.restore()
        return f"the read primary's proxy refused connections for {READ_PRIMARY_OUTAGE_SECONDS:.0f} s"

    def hold_append_lock(self) -> str:
        from commands.eventlog import APPEND_LOCK_KEY

        with psycopg.connect(self.write_database_url) as connection:  # a transaction, rolled back on leaving
            connection.execute("SELECT pg_advisory_xact_lock(%s)", [APPEND_LOCK_KEY])
            time.sleep(APPEND_LOCK_SECONDS)
            connection.rollback()
        return f"a transaction held the append lock for {APPEND_LOCK_SECONDS:.0f} s"


REPLICA_PORT = 5433
# A transaction open this long on the primary keeps the soak from stopping the shared replica.
LONG_TRANSACTION_SECONDS = 60
# How long a replica that `scripts/replica start` gave up on may still take to stream again.
REPLICA_RETURN_SECONDS = 120.0
PRIMARY = "postgres://postgres@127.0.0.1:5432/postgres"
# The primary keeps no WAL for a replica that is away (no slot, wal_keep_size 0): on a busy shared cluster
# a replica stopped for seconds came back to find the WAL it needed removed, and `scripts/replica start`
# cloned it afresh for minutes. While the soak has it down, this slot keeps that WAL.
WAL_SLOT = "shop_soak_replica_away"


@contextmanager
def wal_kept_for_the_replica(slot: str = WAL_SLOT):
    """Keep the primary's WAL from now on while the block runs (a physical slot), and no longer."""
    drop_wal_slot(slot)  # one a killed run left behind
    with psycopg.connect(PRIMARY, autocommit=True) as connection:
        connection.execute("SELECT pg_create_physical_replication_slot(%s, true)", [slot])
    try:
        yield
    finally:
        drop_wal_slot(slot)


def drop_wal_slot(slot: str) -> None:
    with psycopg.connect(PRIMARY, autocommit=True) as connection:
        connection.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = %s", [slot]
        )


def replica_folder() -> str:
    """The data folder of the replica on 5433: scripts/replica must be told it, or it acts on this checkout's.

    Read from the running server's postmaster.pid (its fourth line is the port), not by asking the
    server: a standby may be running and yet refuse connections.
    """
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            arguments = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"-D" in arguments[:-1] and arguments[0].endswith(b"postgres"):
            folder = Path(arguments[arguments.index(b"-D") + 1].decode())
            try:
                lines = (folder / "postmaster.pid").read_text().splitlines()
            except OSError:
                continue
            if len(lines) > 3 and lines[3].strip() == str(REPLICA_PORT):
                return str(folder)
    raise RuntimeError(f"no PostgreSQL server runs on port {REPLICA_PORT}: start the replica (make replica)")


def long_transaction_on_the_primary(seconds: int = LONG_TRANSACTION_SECONDS) -> str:
    """Describe the oldest transaction open on the primary's cluster for over `seconds`, if there is one."""
    with psycopg.connect(PRIMARY, autocommit=True) as connection:
        row = connection.execute(
            "SELECT pid, datname, round(extract(epoch FROM now() - xact_start)) FROM pg_stat_activity "
            "WHERE xact_start < now() - make_interval(secs => %s) AND backend_type = 'client backend' "
            "ORDER BY xact_start LIMIT 1",
            [seconds],
        ).fetchone()
    return f"a transaction (pid {row[0]}, database {row[1]}) had been open for {row[2]:.0f} s" if row else ""


def bring_back_the_replica(folder: str) -> str:
    """Start the replica if it is down and wait until it streams; say what went wrong if it does not ("": it streams).

    A replica that runs but does not stream yet is waited for, never handed to `scripts/replica start`,
    which would delete it and clone it afresh after 30 s.
    """
    said = ""
    if not replica_streams() and not server_running(folder):
        try:
            replica("start", folder)
        except subprocess.CalledProcessError as error:
            said = " ".join((error.stdout or b"").decode(errors="replace").strip().splitlines()[-1:])
    started = time.monotonic()
    while not replica_streams():
        if time.monotonic() - started > REPLICA_RETURN_SECONDS:
            return f"the replica in {folder} did not stream again within {REPLICA_RETURN_SECONDS:.0f} s ({said})"
        time.sleep(1)
    return ""


def server_running(folder: str) -> bool:
    try:
        os.kill(int((Path(folder) / "postmaster.pid").read_text().split()[0]), 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def replica_streams() -> bool:
    try:
        with psycopg.connect(f"postgres://postgres@127.0.0.1:{REPLICA_PORT}/postgres", connect_timeout=2) as replica:
            row = replica.execute("SELECT status FROM pg_stat_wal_receiver").fetchone()
    except psycopg.Error:
        return False
    return row is not None and row[0] == "streaming"


def replica(action: str, folder: str) -> None:
    """scripts/replica `action` on the replica in `folder` (start waits until it streams)."""
    environment = {**os.environ, "REPLICA_DIR": folder, "REPLICA_PORT": str(REPLICA_PORT)}
    command = [str(PROJECT / "scripts" / "replica"), action]
    subprocess.run(command, check=True, capture_output=True, timeout=180, env=environment)

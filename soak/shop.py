"""The shop as production runs it, under a supervisor: every process that dies is started again, as systemd would.

The processes are the ones `make serve`, `make worker` and `make beat` start (through
tests/processes.py): scripts/serve with two web processes under gunicorn (whose arbiter
restarts a killed web process itself), one Celery worker per queue group with one process
each, beat, and a private redis-server. The read primary is reached through a TcpProxy so
that a fault can make it refuse connections; the streaming replica is reached directly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from tests.processes import (
    Service,
    Services,
    TcpProxy,
    celery_beat,
    celery_worker,
    free_port,
    port_open,
    redis_server,
    wait_until,
    web_server,
)

# The queue groups of `make worker` (Makefile: PROJECTIONS_WORKER ... COMMANDS_WORKER), one process each.
WORKER_QUEUES = {
    "projections": "projections",
    "side-effects": "notifications,cache",
    "rebuilds": "rebuilds",
    "commands": "commands",
}
WEB_PROCESSES = 2
SUPERVISOR_INTERVAL = 0.5
# What each kind of process writes to its log once it is ready again.
READY_MARK = {"worker": "ready.", "beat": "beat: Starting", "web": "Application startup complete."}


@dataclass
class Supervised:
    kind: str  # redis, web, worker, beat
    service: Service
    port: int | None = None
    restarts: int = 0


class Shop:
    """Starts the processes, restarts any that dies, and says when one is back."""

    def __init__(self, services: Services, environment: dict[str, str], log_dir: Path, read_primary_port: int = 5432):
        self.services = services
        self.log_dir = log_dir
        self.read_proxy = TcpProxy(read_primary_port)
        self.redis_port = free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.web_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.environment = environment
        self.processes: dict[str, Supervised] = {}
        self._stopping = threading.Event()
        self._restarting = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="supervisor", daemon=True)

    def service_environment(self, read_database_url: str) -> dict[str, str]:
        """The services' environment: the read primary through the proxy, this run's Redis."""
        return {**self.environment, "READ_DATABASE_URL": read_database_url, "REDIS_URL": self.redis_url}

    def start(self, read_database_url_through_proxy: str) -> None:
        self.read_proxy.start()
        self.environment = self.service_environment(read_database_url_through_proxy)
        self._add("redis", redis_server(self.log_dir, self.redis_port), port=self.redis_port)
        web = web_server(self.environment, self.log_dir, self.web_port, workers=WEB_PROCESSES)
        self._add("web", web, port=self.web_port)
        for name, queues in WORKER_QUEUES.items():
            self._add(name, celery_worker(self.environment, self.log_dir, queues=queues, concurrency=1, name=name))
        self._add("beat", celery_beat(self.environment, self.log_dir))
        for name in self.processes:
            # Each web process says it is ready: the last of them makes WEB_PROCESSES marks.
            self.wait_until_ready(name, marks_before=WEB_PROCESSES - 1 if name == "web" else 0)
        self._supervisor.start()

    def _add(self, name: str, service: Service, port: int | None = None) -> None:
        kind = "worker" if name in WORKER_QUEUES else name
        self.processes[name] = Supervised(kind, self.services.start(service), port)

    # --- readiness ---------------------------------------------------------------------------

    def ready_marks(self, name: str) -> int:
        supervised = self.processes[name]
        mark = READY_MARK.get(supervised.kind)
        return supervised.service.log().count(mark) if mark else 0

    def ready(self, name: str, marks_before: int) -> bool:
        supervised = self.processes[name]
        if not supervised.service.running():
            return False
        if supervised.port is not None and not port_open(supervised.port):
            return False
        if supervised.kind == "web" and len(self.web_processes()) != WEB_PROCESSES:
            return False
        return supervised.kind not in READY_MARK or self.ready_marks(name) > marks_before

    def wait_until_ready(self, name: str, *, marks_before: int, timeout: float = 90) -> None:
        wait_until(lambda: self.ready(name, marks_before), timeout=timeout, interval=0.1, what=f"{name} ready")

    def web_processes(self) -> list[int]:
        """The pids of gunicorn's web processes (the arbiter's children)."""
        master = self.processes["web"].service.process.pid
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        except OSError:
            return []
        return [int(pid) for pid in children]

    def kill(self, name: str) -> int:
        """SIGKILL process `name` with its process group; the supervisor starts it again. Return its pid."""
        service = self.processes[name].service
        with self._restarting:  # so that the supervisor does not start it while we still wait for the old one
            pid = service.process.pid
            service.kill()
        return pid

    # --- the supervisor ----------------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stopping.wait(SUPERVISOR_INTERVAL):
            for supervised in self.processes.values():
                if not supervised.service.running() and not self._stopping.is_set():
                    with self._restarting:
                        if not supervised.service.running():  # not started again while we waited for the lock
                            supervised.service.start()
                            supervised.restarts += 1

    def stop(self) -> None:
        self._stopping.set()
        if self._supervisor.is_alive():
            self._supervisor.join(timeout=5)
        self.services.stop_all()
        self.read_proxy.stop()


def wait_for(condition, *, timeout: float) -> bool:
    """Poll `condition` for up to `timeout` seconds; whether it came true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()

"""Real processes for the drills, the end-to-end tests and the benchmarks: Celery worker and beat, web server, Redis.

The one place that starts, waits for and stops them. It never imports pytest, so
`python -m bench` uses it as the tests do; the pytest fixtures on top of it live in
tests/service_fixtures.py, and what only the benchmark needs (its own databases and
environment) in bench/environment.py. Each process runs in its own process group,
so a drill can SIGKILL a worker with its pool children, and logs to its own file.
"""

from __future__ import annotations

import os
import queue
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parent.parent
# Every queue a follower or task is routed to: one worker on all of them stands for `make worker`'s three.
ALL_QUEUES = "projections,notifications,cache,rebuilds,commands"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    """Poll `condition` until it is true; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


# As docker-compose.yml deploys the shop (DEBUG off, connections kept for a minute), without its TLS
# proxy, and with the rate limits far above any load: the benchmarks and the soak measure latency and
# faults, not the throttles.
AS_DEPLOYED = {
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "CONN_MAX_AGE": "60",
    "THROTTLE_USER_RATE": "1000000/minute",
    "THROTTLE_ANON_RATE": "1000000/minute",
}


def process_environment(
    *, database_url: str, read_database_url: str, redis_url: str, settings_module: str, **overrides: str
) -> dict[str, str]:
    """The environment of a service process on these databases and this Redis, with real Celery workers."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": str(PROJECT),
        "DATABASE_URL": database_url,
        "READ_DATABASE_URL": read_database_url,
        "READ_REPLICA_URLS": "",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(overrides)
    return environment


def database_url(alias: str, *, port: int | None = None) -> str:
    """The URL of this process's database `alias` (a test session's), or of the same database behind `port`."""
    config = connections[alias].settings_dict
    credentials = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    host = "127.0.0.1" if port else config["HOST"] or "127.0.0.1"
    return f"postgres://{credentials}@{host}:{port or config['PORT'] or 5432}/{config['NAME']}"


def database_url_through(alias: str, proxy: TcpProxy) -> str:
    """The URL of this test session's database `alias`, reached through `proxy`."""
    return database_url(alias, port=proxy.port)


def service_environment(redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a service process that shares this test session's databases."""
    return process_environment(
        database_url=database_url("default"),
        read_database_url=database_url("read"),
        redis_url=redis_url,
        settings_module="config.settings",
        # A follower whose wake-up was lost is caught up by beat within a second, not a minute.
        PROJECTION_SAFETY_NET_SECONDS="1",
        **overrides,
    )


@dataclass
class Service:
    """One background process in its own process group, with its log file."""

    name: str
    command: list[str]
    environment: dict[str, str]
    log_dir: Path
    process: subprocess.Popen | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.log_dir / f"{self.name}-{uuid.uuid4().hex[:6]}.log"

    def start(self) -> Service:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_until_ready(self, ready: Callable[[], bool], *, timeout: float, what: str) -> None:
        """Wait until `ready()`; fail at once, with the log's tail, if the process exits first."""
        wait_until(lambda: ready() or not self.running(), timeout=timeout, what=f"{self.name}: {what}")
        if not self.running():
            raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")

    def wait_for_log(self, text: str, *, timeout: float = 60) -> None:
        self.wait_until_ready(lambda: text in self.log(), timeout=timeout, what=repr(text))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to the whole process group (a Celery worker and its pool children)."""
        if self.running():
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if not self.running():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


def redis_server(log_dir: Path, port: int) -> Service:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Service(f"redis-{port}", command, dict(os.environ), log_dir)


def web_server(environment: dict[str, str], log_dir: Path, port: int, *, workers: int) -> Service:
    """scripts/serve, the production web server, with this interpreter's environment first on PATH."""
    path = f"{BIN}{os.pathsep}{environment.get('PATH', '')}"
    serving = {**environment, "PATH": path, "WEB_CONCURRENCY": str(workers), "GUNICORN_CMD_ARGS": "--backlog 2048"}
    return Service("web", [str(PROJECT / "scripts" / "serve"), f"127.0.0.1:{port}"], serving, log_dir)


def celery_worker(environment: dict[str, str], log_dir: Path, *, queues: str, concurrency: int, name: str) -> Service:
    command = [
        str(BIN / "celery"), "-A", "config", "worker", "-Q", queues,
        "-c", str(concurrency), "-l", "info", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    # Readiness is read from the log: the "ready." line must get through whatever LOG_LEVEL the caller set.
    return Service(name, command, {**environment, "LOG_LEVEL": "INFO"}, log_dir)


def celery_beat(environment: dict[str, str], log_dir: Path) -> Service:
    command = [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(log_dir / "beat-schedule")]
    return Service("beat", command, {**environment, "LOG_LEVEL": "INFO"}, log_dir)


class Services:
    """Starts processes, each ready when returned, and stops every one still running, newest first."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Service] = []

    def start(self, service: Service) -> Service:
        self.started.append(service.start())
        return service

    def stop(self, service: Service) -> None:
        service.stop()
        if service in self.started:
            self.started.remove(service)

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.stop()
        self.started.clear()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.log()[-4000:]}" for s in self.started)

    def redis(self, port: int | None = None) -> tuple[Service, str]:
        """A private redis-server (on `port`, to bring a stopped one back at its address) and its URL."""
        port = port or free_port()
        server = self.start(redis_server(self.log_dir, port))
        server.wait_until_ready(lambda: port_open(port), timeout=10, what=f"listening on {port}")
        return server, f"redis://127.0.0.1:{port}/0"

    def web(self, environment: dict[str, str], *, workers: int = 2) -> str:
        """The web server (scripts/serve) with `workers` processes; its base URL."""
        _, base_url = self.web_server(environment, workers=workers)
        return base_url

    def web_server(self, environment: dict[str, str], *, workers: int = 2) -> tuple[Service, str]:
        """The web server (scripts/serve), and its base URL: for a caller that stops it before the others."""
        port = free_port()
        web = self.start(web_server(environment, self.log_dir, port, workers=workers))
        web.wait_until_ready(lambda: port_open(port), timeout=30, what=f"listening on {port}")
        return web, f"http://127.0.0.1:{port}"

    def worker(
        self, environment: dict[str, str], *, queues: str = ALL_QUEUES, concurrency: int = 2, name: str = "worker"
    ) -> Service:
        worker = self.start(celery_worker(environment, self.log_dir, queues=queues, concurrency=concurrency, name=name))
        worker.wait_for_log("ready.", timeout=60)
        return worker

    def beat(self, environment: dict[str, str]) -> Service:
        beat = self.start(celery_beat(environment, self.log_dir))
        beat.wait_for_log("beat: Starting", timeout=30)
        return beat

    def shop(self, environment: dict[str, str]) -> str:
        """The shop as deployed: the web server, a worker on every queue and beat; the web's base URL."""
        base_url = self.web(environment)
        self.worker(environment)
        self.beat(environment)
        return base_url


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a TCP server, until cut: a database outage without touching the database.

    `cut()` closes the listening socket and every live connection (clients see
    refused connections and dropped sessions); `restore()` listens again on the
    same port. One thread runs the sockets; cut and restore run on it too.
    """

    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.port = free_port()
        self._selector = selectors.DefaultSelector()
        self._listener: socket.socket | None = None
        self._peers: dict[socket.socket, socket.socket] = {}
        self._actions: queue.Queue = queue.Queue()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._selector.register(self._wake_reader, selectors.EVENT_READ)
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=f"tcp-proxy-{self.port}", daemon=True)

    def start(self) -> TcpProxy:
        self._thread.start()
        self.restore()
        return self

    def cut(self) -> None:
        self._on_proxy_thread(self._cut)

    def restore(self) -> None:
        self._on_proxy_thread(self._listen)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._on_proxy_thread(self._cut)
            self._stopped = True
            self._wake_writer.send(b"!")
            self._thread.join(timeout=5)

    def _on_proxy_thread(self, action: Callable[[], None]) -> None:
        done = threading.Event()
        self._actions.put((action, done))
        self._wake_writer.send(b"!")
        if not done.wait(timeout=10):
            raise RuntimeError(f"the proxy on port {self.port} did not run {action.__name__}")

    def _run(self) -> None:
        while not self._stopped:
            for key, _ in self._selector.select(timeout=0.5):
                if key.fileobj is self._wake_reader:
                    self._wake_reader.recv(4096)
                    while not self._actions.empty():
                        action, done = self._actions.get()
                        action()
                        done.set()
                elif key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj in self._peers:  # not closed earlier in this round
                    self._forward(key.fileobj)

    def _listen(self) -> None:
        if self._listener is not None:
            return
        listener = socket.socket()
        # The port's old connections linger in TIME_WAIT; the restored proxy must still get the same port.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ)

    def _cut(self) -> None:
        if self._listener is not None:
            self._selector.unregister(self._listener)
            self._listener.close()
            self._listener = None
        for connection in list(self._peers):
            self._close(connection)

    def _accept(self) -> None:
        client, _ = self._listener.accept()
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._peers[client], self._peers[upstream] = upstream, client
        self._selector.register(client, selectors.EVENT_READ)
        self._selector.register(upstream, selectors.EVENT_READ)

    def _forward(self, source: socket.socket) -> None:
        try:
            data = source.recv(65536)
            if data:
                self._peers[source].sendall(data)
                return
        except OSError:
            pass
        self._close(source)

    def _close(self, connection: socket.socket) -> None:
        if connection not in self._peers:
            return  # closed already, with its peer
        peer = self._peers.pop(connection)
        del self._peers[peer]
        for end in (connection, peer):
            self._selector.unregister(end)
            end.close()

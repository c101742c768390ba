"""Real processes for end-to-end tests and drills: Celery worker and beat, gunicorn, a private Redis.

They run against the test databases of the current pytest session (committed
data only, so use them from transaction=True tests), each in its own process
group so a drill can SIGKILL a worker with its pool children.
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
from pathlib import Path

import pytest
from django.db import connections

BIN = Path(sys.executable).parent
PROJECT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    """Poll `condition` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def database_url(alias: str) -> str:
    config = connections[alias].settings_dict
    credentials = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgres://{credentials}@{config['HOST'] or '127.0.0.1'}:{config['PORT'] or 5432}/{config['NAME']}"


def service_environment(redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of a service process that shares this test session's databases."""
    environment = {
        **os.environ,
        "DATABASE_URL": database_url("default"),
        "READ_DATABASE_URL": database_url("read"),
        "READ_REPLICA_URLS": "",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PROJECTION_SAFETY_NET_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(overrides)
    return environment


class Service:
    """One background process with its log file."""

    def __init__(self, name: str, command: list[str], environment: dict[str, str], log_dir: Path):
        self.name, self.command, self.environment = name, command, environment
        self.log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            cwd=PROJECT,
            env=self.environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, text: str, *, timeout: float = 30) -> None:
        wait_until(lambda: text in self.log() or not self.running(), timeout=timeout, what=f"{self.name}: {text!r}")
        if not self.running():
            raise AssertionError(f"{self.name} exited:\n{self.log()[-3000:]}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

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
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


def celery_worker(environment: dict[str, str], log_dir: Path, *, concurrency: int = 2) -> Service:
    """One worker on every queue (`make worker` splits them over three): a drill kills it as a whole."""
    command = [
        str(BIN / "celery"), "-A", "config", "worker", "-Q", "projections,notifications,cache,rebuilds,commands",
        "-c", str(concurrency), "-l", "info", "-n", f"drill-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    return Service("worker", command, environment, log_dir)


def celery_beat(environment: dict[str, str], log_dir: Path) -> Service:
    command = [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(log_dir / "beat-schedule")]
    return Service("beat", command, environment, log_dir)


def gunicorn(environment: dict[str, str], log_dir: Path, port: int) -> Service:
    command = [str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "--timeout", "60"]
    return Service("web", command, environment, log_dir)


def redis_server(log_dir: Path, port: int) -> Service:
    command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Service(f"redis-{port}", command, dict(os.environ), log_dir)


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class Services:
    """Starts services for one test and stops them all at its end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.started: list[Service] = []

    def _start(self, service: Service) -> Service:
        self.started.append(service.start())
        return service

    def redis(self, port: int | None = None) -> tuple[Service, str]:
        port = port or free_port()
        server = self._start(redis_server(self.log_dir, port))
        wait_until(lambda: port_open(port), timeout=10, what=f"redis on {port}")
        return server, f"redis://127.0.0.1:{port}/0"

    def worker(self, environment: dict[str, str]) -> Service:
        worker = self._start(celery_worker(environment, self.log_dir))
        worker.wait_for_log("ready.", timeout=60)
        return worker

    def beat(self, environment: dict[str, str]) -> Service:
        beat = self._start(celery_beat(environment, self.log_dir))
        beat.wait_for_log("beat: Starting", timeout=30)
        return beat

    def web(self, environment: dict[str, str]) -> str:
        port = free_port()
        self._start(gunicorn(environment, self.log_dir, port))
        wait_until(lambda: port_open(port), timeout=30, what="gunicorn")
        return f"http://127.0.0.1:{port}"

    def stop_all(self) -> None:
        for service in reversed(self.started):
            service.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.log()[-4000:]}" for s in self.started)


# --- Fixtures for the tests that start services (imported by tests/e2e and tests/drills) ------------


@pytest.fixture(autouse=True)
def _passwords_the_services_can_check(settings):
    # The service processes use the real hashers; users made here must be able to log in there.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]


@pytest.fixture
def services(tmp_path, request):
    """Real Celery workers, beat, gunicorn and Redis for one test; their logs are printed if it fails."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs Redis and real Celery workers: set REDIS_URL (and DATABASE_URL) to run it")
    started = Services(tmp_path)
    yield started
    started.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(started.logs())


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
            raise AssertionError(f"the proxy on port {self.port} did not run {action.__name__}")

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


def database_url_through(alias: str, proxy: TcpProxy) -> str:
    """The URL of this session's database `alias`, reached through `proxy`."""
    config = connections[alias].settings_dict
    credentials = config["USER"] + (f":{config['PASSWORD']}" if config["PASSWORD"] else "")
    return f"postgres://{credentials}@127.0.0.1:{proxy.port}/{config['NAME']}"

"""The benchmark's own world: two PostgreSQL databases, a private Redis, and the processes that serve them.

Only databases named by the run (bench_write and bench_read unless --database-prefix says
otherwise) are ever created or dropped, and Redis is a private redis-server on a free port,
so nothing another engineer is using is touched. Every process gets the same environment:
DEBUG off, persistent database connections, logging at WARNING.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


@dataclass
class Databases:
    """The run's write and read databases, created empty and dropped at the end."""

    prefix: str = "bench"

    @property
    def write(self) -> str:
        return f"{self.prefix}_write"

    @property
    def read(self) -> str:
        return f"{self.prefix}_read"

    def url(self, name: str) -> str:
        return f"{POSTGRES}/{name}"

    def _admin(self, statement: sql.Composable) -> None:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            connection.execute(statement)

    def create(self) -> None:
        for name in (self.write, self.read):
            self._drop(name)
            self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def require_existing(self) -> None:
        """Fail unless both databases exist (left by a run with --keep)."""
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as connection:
            found = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
        missing = [name for name in (self.write, self.read) if name not in found]
        if missing:
            raise RuntimeError(f"--reuse-history: no database {', '.join(missing)}; run once with --keep first")

    def drop(self) -> None:
        for name in (self.write, self.read):
            self._drop(name)

    def _drop(self, name: str) -> None:
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def environment(databases: Databases, redis_url: str, **overrides: str) -> dict[str, str]:
    """The environment of the runner and every process it starts."""
    values = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "PYTHONPATH": str(PROJECT),
        "DATABASE_URL": databases.url(databases.write),
        "READ_DATABASE_URL": databases.url(databases.read),
        "READ_REPLICA_URLS": "",
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        # As deployed (docker-compose.yml): DEBUG off, connections kept for a minute.
        "DEBUG": "false",
        "SECRET_KEY": "benchmarks-only-" + "0" * 40,
        "SECURE_SSL_REDIRECT": "false",
        "CONN_MAX_AGE": "60",
        # Request logs and per-batch INFO lines would be measured too; errors still show.
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        # Latency, not rate limiting, is measured: the limits are set far above the load.
        "THROTTLE_USER_RATE": "1000000/minute",
        "THROTTLE_ANON_RATE": "1000000/minute",
        "PYTHONUNBUFFERED": "1",
    }
    values.update(overrides)
    return values


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

    def wait_for_log(self, text: str, *, timeout: float = 60) -> None:
        wait_until(lambda: text in self.log() or not self.running(), timeout=timeout, what=f"{self.name}: {text!r}")
        if not self.running():
            raise RuntimeError(f"{self.name} exited:\n{self.log()[-3000:]}")

    def stop(self) -> None:
        if not self.running():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)


class Services:
    """Starts the run's processes and stops every one of them, newest first."""

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

    def redis(self) -> tuple[Service, str]:
        port = free_port()
        command = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        server = self.start(Service(f"redis-{port}", command, dict(os.environ), self.log_dir))
        wait_until(lambda: port_open(port), timeout=10, what=f"redis on {port}")
        return server, f"redis://127.0.0.1:{port}/0"

    def web(self, env: dict[str, str], *, workers: int, threads: int) -> tuple[Service, str]:
        port = free_port()
        command = [
            str(BIN / "gunicorn"), "config.wsgi", "-b", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "60", "--backlog", "2048",
        ]  # fmt: skip
        web = self.start(Service("web", command, env, self.log_dir))
        wait_until(lambda: port_open(port) or not web.running(), timeout=30, what="gunicorn")
        if not web.running():
            raise RuntimeError(f"gunicorn exited:\n{web.log()[-3000:]}")
        return web, f"http://127.0.0.1:{port}"

    def worker(self, env: dict[str, str], *, queues: str, concurrency: int, name: str = "worker") -> Service:
        command = [
            str(BIN / "celery"), "-A", "config", "worker", "-Q", queues,
            "-c", str(concurrency), "-l", "info", "-n", f"bench-{name}-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        worker = self.start(Service(name, command, {**env, "LOG_LEVEL": "INFO"}, self.log_dir))
        worker.wait_for_log("ready.", timeout=60)
        return worker

    def beat(self, env: dict[str, str]) -> Service:
        command = [str(BIN / "celery"), "-A", "config", "beat", "-l", "info", "-s", str(self.log_dir / "beat-schedule")]
        beat = self.start(Service("beat", command, {**env, "LOG_LEVEL": "INFO"}, self.log_dir))
        beat.wait_for_log("beat: Starting", timeout=30)
        return beat

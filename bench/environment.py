"""The benchmark's own world: two PostgreSQL databases, and the environment of every process it starts.

Only databases named by the run (bench_write and bench_read unless --database-prefix says
otherwise) are ever created or dropped, and Redis is a private redis-server on a free port,
so nothing another engineer is using is touched. Every process gets the same environment:
DEBUG off, persistent database connections, logging at WARNING. The processes themselves
(Redis, the web server, Celery) are started by tests/processes.py, as the drills start them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
from psycopg import sql

from tests.processes import AS_DEPLOYED, process_environment

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")


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
    return process_environment(
        database_url=databases.url(databases.write),
        read_database_url=databases.url(databases.read),
        redis_url=redis_url,
        settings_module="bench.settings",
        **AS_DEPLOYED,
        SECRET_KEY="benchmarks-only-" + "0" * 40,
        # Request logs and per-batch INFO lines would be measured too; errors still show.
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        **overrides,
    )

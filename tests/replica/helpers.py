"""The real streaming replica behind `read_replica_1`, as a test drives it: pause, resume, stop, start, inspect."""

from __future__ import annotations

import os
import subprocess

import psycopg
from django.db import connections

from tests.processes import PROJECT, database_url, service_environment, wait_until
from tests.replication import server_of, wait_for_replay

REPLICA = "read_replica_1"
SCRIPT = PROJECT / "scripts" / "replica"


class StreamingReplica:
    def __init__(self, alias: str = REPLICA):
        self.alias = alias
        self.settings = connections[alias].settings_dict
        primary = connections["read"].settings_dict
        self.script_environment = {
            **os.environ,
            "REPLICA_PORT": str(self.port),
            "PRIMARY_HOST": primary["HOST"] or "127.0.0.1",
            "PRIMARY_PORT": str(primary["PORT"] or 5432),
            "PRIMARY_USER": primary["USER"] or "postgres",
        }
        self.script_environment["REPLICA_DIR"] = self.sql("SHOW data_directory")[0][0]

    @property
    def port(self) -> int:
        return int(self.settings["PORT"] or 5432)

    def url(self, **parameters: str) -> str:
        """A URL of the replica's copy of the test read database, for a service's READ_REPLICA_URLS."""
        query = "&".join(f"{name}={value}" for name, value in parameters.items())
        return f"postgres://{self.settings['USER']}@127.0.0.1:{self.port}/{self.settings['NAME']}?{query}"

    def sql(self, query: str, params: tuple = ()) -> list[tuple]:
        return server_sql(self.alias, query, params)

    # --- replay -----------------------------------------------------------------------------

    def pause_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_pause()")
        wait_until(
            lambda: self.sql("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused",
            timeout=10,
            what="the replica to pause replay",
        )

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def wait_until_replayed(self) -> None:
        """Until the replica has replayed everything the primary has written so far."""
        with psycopg.connect(**server_of(self.alias), autocommit=True) as connection:
            wait_for_replay(connection)

    # --- the server -----------------------------------------------------------------------------

    def stop(self) -> None:
        self._script("stop")

    def start(self) -> None:
        """Start it again; the script returns once it streams from the primary."""
        self._script("start")

    def running(self) -> bool:
        try:
            self.sql("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def _script(self, command: str) -> None:
        done = subprocess.run(
            [str(SCRIPT), command], env=self.script_environment, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"scripts/replica {command} failed:\n{done.stdout}\n{done.stderr}"

    # --- who reads from it ----------------------------------------------------------------------

    def queries_of(self, application_name: str) -> list[str]:
        """The last query of every connection that `application_name` has open on the replica."""
        return queries_of(self.alias, application_name)


def web_environment(redis_url: str, replica: StreamingReplica) -> dict[str, str]:
    """A web process reading from `replica`, its connections named for pg_stat_activity and kept open after a request.

    application_name tells the process's connections apart: `test-web-replica` on
    the replica, `test-web-read` on the read primary.
    """
    return service_environment(
        redis_url,
        READ_DATABASE_URL=f"{database_url('read')}?application_name=test-web-read",
        READ_REPLICA_URLS=replica.url(application_name="test-web-replica"),
        CONN_MAX_AGE="60",
        WEB_CONN_MAX_AGE="60",  # scripts/serve closes a request's connections otherwise
    )


def server_sql(alias: str, query: str, params: tuple = ()) -> list[tuple]:
    """Run `query` on the server of database `alias` (its `postgres` database, autocommit)."""
    with psycopg.connect(**server_of(alias), autocommit=True) as connection:
        return connection.execute(query, params).fetchall()


def queries_of(alias: str, application_name: str) -> list[str]:
    """The last query of every connection that `application_name` has open on the server of `alias`."""
    rows = server_sql(alias, "SELECT query FROM pg_stat_activity WHERE application_name = %s", (application_name,))
    return [query for (query,) in rows]

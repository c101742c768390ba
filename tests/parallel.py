"""The test processes of a parallel run (pytest-xdist) share PostgreSQL and Redis without stepping on each other.

pytest-django gives each process databases of its own (test_<name>_gw0, _gw1, ...). Redis
needs the same: every test starts with an emptied cache (tests/conftest.py), which would
empty another process's in the middle of its test. So each process moves REDIS_URL to a
database number of its own, counted up from the one configured.

Loaded with `-p tests.parallel` (pyproject.toml): a plugin named there is imported before
pytest-django reads the settings, which a conftest would be too late for.
"""

import os
import re

REDIS_DATABASES = 16  # redis-server's default `databases`


def _redis_url_of_this_process(url: str, worker: str) -> str:
    """`url` with its database number moved up by this worker's index (gw0 keeps it, gw1 takes the next...)."""
    index = int(worker.removeprefix("gw"))
    match = re.fullmatch(r"(redis://[^/]+)(?:/(\d+))?", url)
    if match is None:
        raise ValueError(f"REDIS_URL {url!r}: expected redis://host:port/<db> for a parallel test run")
    database = int(match.group(2) or 0) + index
    if database >= REDIS_DATABASES:
        raise ValueError(f"REDIS_URL {url!r}: test process {worker} would need Redis database {database}")
    return f"{match.group(1)}/{database}"


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = _redis_url_of_this_process(os.environ["REDIS_URL"], _worker)

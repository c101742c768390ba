"""docker-compose.yml runs the production configuration: every setting it needs, DEBUG off, a real streaming
replica behind READ_REPLICA_URLS, and health-gated start-up.

The settings the project reads come from parsing config/settings.py, so a new environment variable without a
compose entry (or an allowlist entry below, with its reason) fails here.
"""

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # safe_load resolves anchors and `<<:` merges
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "side-effects-worker", "rebuild-worker", "commands-worker", "beat")

# env("X", ...), env.bool("X", ...), env.db_url("X", ...) ... and the settings' _database("X", ...) helper.
ENV_CALL = re.compile(r"""(?:\benv(?:\.\w+)?|\b_database)\(\s*["']([A-Z][A-Z0-9_]*)["']""")
SETTINGS_VARIABLES = frozenset(ENV_CALL.findall((ROOT / "config" / "settings.py").read_text()))

# Variables with a default that is right for the compose stack, so compose need not set them. Anything else
# config/settings.py reads must be in web's, worker's and beat's environment.
HAVE_SAFE_DEFAULTS = {
    # Derived from REDIS_URL: real workers whenever a broker is configured.
    "CELERY_TASK_ALWAYS_EAGER",
    # E-mail: the local stack prints e-mails on the console (the default backend); a real deployment sets these.
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "EMAIL_HOST_USER",
    "EMAIL_HOST_PASSWORD",
    "EMAIL_USE_TLS",
    "EMAIL_TIMEOUT",
    "DEFAULT_FROM_EMAIL",
    "EMAIL_SENDING_LEASE_SECONDS",
    # Logging: JSON lines by default when DEBUG is off; INFO level.
    "LOG_FORMAT",
    "LOG_LEVEL",
    # Tuning knobs with production defaults (connection reuse, body size, projections, pagination, caching).
    "CONN_MAX_AGE",
    # The web processes' pool and background wake-ups: scripts/serve turns them on, the workers go without.
    "DATABASE_POOL_SIZE",
    "DATABASE_POOL_TIMEOUT",
    "DATABASE_PREPARE_THRESHOLD",
    "WAKE_UPS_IN_BACKGROUND",
    "COMMAND_SWEEP_SECONDS",
    "COMMAND_SWEEP_AFTER_SECONDS",
    "MAX_REQUEST_BYTES",
    "PROJECTION_BATCH_SIZE",
    # One partition per projection unless set; when set, it must be set alike for every process (x-shop-env).
    "PROJECTION_PARTITIONS",
    "REBUILD_BATCH_SIZE",
    "REBUILD_PROCESSES",
    "PROJECTION_MAX_ATTEMPTS",
    "PROJECTION_SAFETY_NET_SECONDS",
    "QUERY_CACHE_SECONDS",
    "QUERY_MAX_PAGE_SIZE",
    "QUERY_MIN_POSITION_WAIT_SECONDS",
    "READ_POSITION_REUSE_SECONDS",
    "QUERY_WAITS_PER_CLIENT",
    "STREAM_HEARTBEAT_SECONDS",
    "QUERY_PAGE_SIZE",
    "READY_MAX_LAG_SECONDS",
    "READ_REPLICA_RETRY_SECONDS",
    "THROTTLE_ANON_RATE",
    "THROTTLE_USER_RATE",
    "THROTTLE_SIGN_IN_RATE",
    # The shop's rules for its process managers: 30 minutes to pay, warn below 5 in stock.
    "ORDER_PAYMENT_TIMEOUT_SECONDS",
    "LOW_STOCK_THRESHOLD",
    # Empty: /metrics is for staff sessions only until a scraper's token is configured.
    "METRICS_TOKEN",
    # Security headers: on by default with DEBUG off (the stack turns HSTS off for localhost).
    "SECURE_HSTS_SECONDS",
    "SECURE_SSL_REDIRECT",
    # The image collects the static files into the default (var/static), where web serves them from.
    "STATIC_ROOT",
}
REQUIRED_AT_LEAST = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "READ_DATABASE_URL",
    "READ_REPLICA_URLS",
    "REDIS_URL",
}
COMPOSE_VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def resolved(value) -> str:
    """A compose value with ${VAR:-default} replaced by its default, as on a machine that sets nothing."""
    return COMPOSE_VARIABLE.sub(lambda match: match.group(2) or "", str(value))


def environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" form
        env = dict(item.split("=", 1) for item in env)
    return {key: resolved(value) for key, value in env.items()}


def postgres_settings(service: str) -> dict[str, str]:
    """The `-c name=value` settings on a PostgreSQL service's command line."""
    command = SERVICES[service].get("command") or []
    if isinstance(command, str):
        command = command.split()
    pairs = [command[i + 1] for i, arg in enumerate(command[:-1]) if arg == "-c"]
    return dict(pair.split("=", 1) for pair in pairs)


def host_of(url: str) -> str:
    return urlsplit(url).hostname


def mounted_script(service: str) -> str:
    """The text of the host script a service's entrypoint runs (found through its volume mounts)."""
    spec = SERVICES[service]
    entrypoint = spec.get("entrypoint") or []
    words = entrypoint.split() if isinstance(entrypoint, str) else entrypoint
    for volume in spec.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith(".") and target in words:
            return (ROOT / source).read_text()
    raise AssertionError(f"{service}'s entrypoint {entrypoint} runs no script mounted from the repository")


def test_the_settings_parse_finds_the_variables_that_matter():
    assert REQUIRED_AT_LEAST <= SETTINGS_VARIABLES, REQUIRED_AT_LEAST - SETTINGS_VARIABLES


def test_the_allowlist_names_only_variables_the_settings_read():
    assert HAVE_SAFE_DEFAULTS <= SETTINGS_VARIABLES, HAVE_SAFE_DEFAULTS - SETTINGS_VARIABLES
    assert not (HAVE_SAFE_DEFAULTS & REQUIRED_AT_LEAST)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_every_setting_without_a_safe_default_is_provided(service):
    provided = set(environment(service))
    missing = (SETTINGS_VARIABLES - HAVE_SAFE_DEFAULTS) - provided
    assert not missing, f"{service} does not set {sorted(missing)} (set it in docker-compose.yml, or allowlist it)"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_app_runs_with_debug_off_and_a_real_secret(service):
    env = environment(service)
    assert env["DEBUG"].strip().lower() not in environ.Env.BOOLEAN_TRUE_STRINGS
    assert env["DEBUG"].strip().lower() in ("0", "false", "off", "no", "n")
    assert len(env["SECRET_KEY"]) >= 50
    assert "insecure" not in env["SECRET_KEY"]
    hosts = [host.strip() for host in env["ALLOWED_HOSTS"].split(",")]
    assert hosts and "*" not in hosts


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_app_points_at_the_services(service):
    env = environment(service)
    assert host_of(env["DATABASE_URL"]) == "db"
    assert host_of(env["READ_DATABASE_URL"]) == "read-primary"
    assert host_of(env["REDIS_URL"]) == "redis"
    replicas = [url.strip() for url in env["READ_REPLICA_URLS"].split(",") if url.strip()]
    assert replicas
    for url in replicas:
        assert host_of(url) == "read-replica"
        # A replica is a copy of the read database: the same database name.
        assert urlsplit(url).path == urlsplit(env["READ_DATABASE_URL"]).path


def test_the_read_primary_can_feed_a_streaming_replica():
    config = postgres_settings("read-primary")
    assert config.get("wal_level") in ("replica", "logical")
    assert int(config.get("max_wal_senders", "0")) > 0
    # The init script makes the replication role the replica connects as, and lets it in.
    init_scripts = [
        (ROOT / volume.split(":")[0]).read_text()
        for volume in SERVICES["read-primary"].get("volumes", [])
        if "docker-entrypoint-initdb.d" in volume
    ]
    assert any("REPLICATION" in script and "host replication" in script for script in init_scripts)


def test_the_replica_streams_from_the_read_primary():
    script = mounted_script("read-replica")
    basebackup = re.search(r"pg_basebackup[^\n]*(?:\\\n[^\n]*)*", script)
    sets_up_standby = basebackup and re.search(r"(?:\s-R\b|--write-recovery-conf)", basebackup.group(0))
    by_hand = "standby.signal" in script and "primary_conninfo" in script
    assert sets_up_standby or by_hand, "read-replica does not configure itself as a streaming standby"
    assert environment("read-replica")["PRIMARY_HOST"] == "read-primary"
    assert "hot_standby=on" in script


def test_the_replica_healthcheck_proves_it_is_a_standby():
    test = SERVICES["read-replica"]["healthcheck"]["test"]
    assert "pg_is_in_recovery()" in " ".join(test if isinstance(test, list) else [test])


def one_shot(service: str) -> bool:
    return SERVICES[service].get("restart") == "no"


@pytest.mark.parametrize("service", [name for name in SERVICES if not one_shot(name)])
def test_every_long_running_service_has_a_healthcheck(service):
    healthcheck = SERVICES[service].get("healthcheck")
    assert healthcheck and not healthcheck.get("disable"), f"{service} has no healthcheck"
    assert healthcheck.get("test"), f"{service}'s healthcheck tests nothing"


@pytest.mark.parametrize("service", [name for name in SERVICES if SERVICES[name].get("depends_on")])
def test_dependencies_wait_for_health(service):
    depends_on = SERVICES[service]["depends_on"]
    assert isinstance(depends_on, dict), f"{service}: the list form of depends_on only waits for a start"
    for dependency, spec in depends_on.items():
        expected = "service_completed_successfully" if one_shot(dependency) else "service_healthy"
        assert spec.get("condition") == expected, (service, dependency, spec)


@pytest.mark.parametrize("service", APP_SERVICES)
def test_the_app_waits_for_every_backing_service(service):
    env = environment(service)
    hosts = {host_of(env[name]) for name in ("DATABASE_URL", "READ_DATABASE_URL", "REDIS_URL")}
    hosts |= {host_of(url) for url in env["READ_REPLICA_URLS"].split(",")}
    depends_on = SERVICES[service]["depends_on"]
    assert hosts <= set(depends_on), hosts - set(depends_on)
    assert all(depends_on[host]["condition"] == "service_healthy" for host in hosts)

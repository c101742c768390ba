"""Settings, read from the environment (every variable is listed in the README).

With nothing set this is the embedded default: SQLite files under var/, Celery
tasks run in-process, a local-memory cache and console e-mail, so `make run`
works on a bare machine. DATABASE_URL, READ_DATABASE_URL, READ_REPLICA_URLS and
REDIS_URL move it onto PostgreSQL, replicas, Redis and real Celery workers.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="insecure-development-key-never-use-in-production-0123456789")
else:
    try:
        SECRET_KEY = env("SECRET_KEY")
    except ImproperlyConfigured as missing:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.") from missing

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.apps.ShopAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "commands",
    "projections",
    "projections.process_managers",
    "queries",
]

MIDDLEWARE = [
    # First: it waits for X-Min-Position in the event loop, which only an async middleware at the top can do.
    "queries.waiting.MinPositionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files are answered here, before sessions, auth and the database are touched.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.routers.PinReplicaMiddleware",
    "core.metrics.QueryMetricsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Databases -------------------------------------------------------------
# `default` holds the write model, the event log and auth; `read` is the read
# primary; `read_replica_N` are its streaming replicas (mirrors of `read` in tests).


# Connections per PostgreSQL alias that one process may hold at once (a psycopg pool); 0, the
# default, means no pool: each thread opens its own. scripts/serve sets it for the web processes
# (4 unless DATABASE_POOL_SIZE says otherwise): under ASGI every request in flight runs its sync
# code on a thread of its own, so without a bound a burst opens as many connections as it has
# requests and PostgreSQL runs out (max_connections). With the pool, requests beyond it wait for
# a connection, up to DATABASE_POOL_TIMEOUT seconds, then answer 503 as a database that is down
# does. Size it so that web processes x aliases on one server x DATABASE_POOL_SIZE + Celery
# processes x aliases + operators' sessions stays below that server's max_connections.
DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=0)
# Long enough for a burst to drain through the pool (2 s is some 800 requests queued behind 4
# connections), short enough that a database that is really down is reported (503) at once: the
# pool cannot tell a database that refuses connections from a busy pool, so it waits this long,
# and a readiness probe that asks two databases must still answer within its own timeout.
DATABASE_POOL_TIMEOUT = env.float("DATABASE_POOL_TIMEOUT", default=2.0)


def _pooled(config: dict, *, timeout: float) -> dict:
    """Give a PostgreSQL alias a bounded connection pool when DATABASE_POOL_SIZE asks for one."""
    if DATABASE_POOL_SIZE <= 0 or not config["ENGINE"].startswith("django.db.backends.postgresql"):
        return config
    # Django hands pooled connections back at the end of each request; it refuses persistent ones.
    config["CONN_MAX_AGE"] = 0
    config.setdefault("OPTIONS", {})["pool"] = {
        # One connection kept open when idle; more are opened as requests need them, up to the size.
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": timeout,
        # A failed attempt at a new connection is retried with a backoff that doubles for as long as
        # this lasts (psycopg's default: 5 minutes), so a database back after 10 s could wait 16 s
        # more for the pool's next try, each request meanwhile answering 503. Giving up after the
        # request timeout instead, the pool tries afresh, at once, for the next request. (Handed-out
        # connections are checked by Django itself: CONN_HEALTH_CHECKS.)
        "reconnect_timeout": timeout,
    }
    return config


# After how many runs on one connection psycopg prepares a statement that PostgreSQL binds
# (core.statements: the event log's append, the projections' row reads; Django's own queries are
# bound by the client and never prepared). 0 turns it off, for a pooler in transaction mode that
# cannot keep a session's prepared statements (PgBouncer before 1.21, or without max_prepared_statements).
DATABASE_PREPARE_THRESHOLD = env.int("DATABASE_PREPARE_THRESHOLD", default=5)


def _database(variable: str, sqlite_file: str) -> dict:
    config = env.db_url(variable, default=f"sqlite:///{VAR_DIR / sqlite_file}")
    config.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    config["CONN_HEALTH_CHECKS"] = True
    _pooled(config, timeout=DATABASE_POOL_TIMEOUT)
    if config["ENGINE"].startswith("django.db.backends.postgresql") and DATABASE_PREPARE_THRESHOLD > 0:
        config.setdefault("OPTIONS", {})["prepare_threshold"] = DATABASE_PREPARE_THRESHOLD
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets the API read while a projector writes; the busy timeout makes
        # the second writer wait instead of failing at once.
        # IMMEDIATE takes the write lock when a transaction starts, so a
        # read-then-write (stock check, version check) cannot be overtaken.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    return config


DATABASES = {
    "default": _database("DATABASE_URL", "write.sqlite3"),
    "read": _database("READ_DATABASE_URL", "read.sqlite3"),
}
for number, url in enumerate(env.list("READ_REPLICA_URLS", default=[]), start=1):
    replica = environ.Env.db_url_config(url)
    replica.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
    replica["CONN_HEALTH_CHECKS"] = True
    # A replica that does not answer soon is passed over (core.replicas), so don't wait long for it.
    replica.setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    # Nor wait longer for one of its pooled connections than for a new one.
    _pooled(replica, timeout=min(DATABASE_POOL_TIMEOUT, float(replica["OPTIONS"]["connect_timeout"])))
    replica["TEST"] = {"MIRROR": "read"}
    DATABASES[f"read_replica_{number}"] = replica
# How long queries leave out a replica that could not be reached before trying it again.
READ_REPLICA_RETRY_SECONDS = env.float("READ_REPLICA_RETRY_SECONDS", default=5.0)

if any(db["ENGINE"].endswith("sqlite3") for db in DATABASES.values()):
    VAR_DIR.mkdir(exist_ok=True)

DATABASE_ROUTERS = ["core.routers.ReadWriteRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EMBEDDED = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"

# --- Cache, Celery, e-mail ------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # The cache only saves work (cached responses, throttle counters): an outage costs a miss,
            # never a failed request. Code that must know (wake-ups) asks Redis directly.
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# An outage the cache backend ignores is still logged (as "Exception ignored", with its traceback).
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# When the broker connection drops, the tasks still running are cancelled (Celery 6's default): their acks
# could not reach the broker anyway, and the reconnected worker starts with free processes. Every task here
# is safe to cut short and run again: checkpoints move with their writes, e-mails are claimed before sent.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fix-up closes every database connection before and after every task
# unless this is set: reconnecting cost a run ~8% of its time. Worker processes keep them
# as web processes do (CONN_MAX_AGE; config/celery.py closes broken or old ones around each
# task), and the fix-up still closes them after this many tasks.
CELERY_DB_REUSE_MAX = 1000
# Publishing (a wake-up after a command commits) gives up fast when the broker is
# down: the command has committed, and beat's safety net catches up later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}

CELERY_TASK_DEFAULT_QUEUE = "projections"
# A rebuild takes minutes: on the projections or side-effects worker (one process each) it would hold
# up every live projection or every e-mail, so it has a worker of its own (see `make worker`).
CELERY_TASK_ROUTES = {
    "projections.tasks.rebuild_in_background": {"queue": "rebuilds"},
    # Asynchronous commands have a worker of their own: they never wait behind the projections.
    "commands.tasks.*": {"queue": "commands"},
}
CELERY_BEAT_SCHEDULE = {
    "catch-up-everything": {
        "task": "projections.tasks.catch_up_everything",
        "schedule": env.float("PROJECTION_SAFETY_NET_SECONDS", default=5.0),
    },
    # The points of the dashboard's lag chart (one per follower every 30 s, kept for a day).
    "sample-projection-lag": {
        "task": "projections.tasks.sample_lag",
        "schedule": 30.0,
    },
    # Cancels the orders left unpaid; a deadline fires at most this late (an indexed query when none is due).
    "fire-payment-deadlines": {
        "task": "projections.process_managers.tasks.fire_payment_deadlines",
        "schedule": 5.0,
        "options": {"queue": "notifications"},
    },
    # Sends the e-mails no live sender holds: those of a sender that died (claimed longer ago than
    # EMAIL_SENDING_LEASE_SECONDS) go out at most this long after the lease, even if no event comes.
    "sweep-outbox": {
        "task": "projections.tasks.sweep_outbox",
        "schedule": 10.0,
        "options": {"queue": "notifications"},
    },
}

# --- Projections -----------------------------------------------------------
# Wake the followers after a commit from a thread of the process's own (projections.tasks._Waker)
# rather than in the request: the cache claim and the broker publish were over half an append's
# time. scripts/serve turns it on for the web processes; elsewhere commands wait for their wake-ups.
WAKE_UPS_IN_BACKGROUND = env.bool("WAKE_UPS_IN_BACKGROUND", default=False)
PROJECTION_BATCH_SIZE = env.int("PROJECTION_BATCH_SIZE", default=500)
# Partitions per projection, e.g. "product_catalog=2,order_summary=2" (default 1 each): each partition
# owns the rows whose key hashes to it, has its own checkpoint and runs as its own Celery task, so N
# worker processes (on any machines) share a read model. Changing a count goes through a rebuild
# (rebuild_projections NAME): until then the projection's new partitions wait, paused.
PROJECTION_PARTITIONS = env.dict("PROJECTION_PARTITIONS", default={})
# Events per batch of a rebuild (rebuild_projections, blue/green upgrades): it writes shadow tables nobody
# reads, so a batch can be large, and a larger one merges more events into each row it upserts. 5,000 is a
# first choice, not yet a benchmark's: bench 4 (--rebuild-batch-size) is where to settle it.
REBUILD_BATCH_SIZE = env.int("REBUILD_BATCH_SIZE", default=5000)
# Processes that replay the bulk of a rebuild side by side, each writing its partition of the rows
# (projections.parallel_replay; PostgreSQL only). A rebuild is bound by the interpreter, not the database.
REBUILD_PROCESSES = max(1, env.int("REBUILD_PROCESSES", default=2))
# Attempts at a failing event before its projection is marked failed (at least 2,
# so the last attempt runs one event at a time and names the event).
PROJECTION_MAX_ATTEMPTS = max(2, env.int("PROJECTION_MAX_ATTEMPTS", default=3))

# --- Process managers (projections/process_managers) ----------------------------
# An order still placed (not paid) this long after it was placed is cancelled with reason payment_timeout.
ORDER_PAYMENT_TIMEOUT_SECONDS = env.int("ORDER_PAYMENT_TIMEOUT_SECONDS", default=1800)
# Catalog managers get one e-mail when a product's available stock falls below this.
LOW_STOCK_THRESHOLD = env.int("LOW_STOCK_THRESHOLD", default=5)

# The bearer token a Prometheus scraper sends to /metrics (staff sessions work without it).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# /readyz reports a follower whose oldest unapplied event is older than this as stalled.
READY_MAX_LAG_SECONDS = env.float("READY_MAX_LAG_SECONDS", default=60.0)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # for the filebased backend
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
# Seconds an SMTP connection may block (Django's default is forever): a mail server that hangs must give
# the notifications queue back, well within EMAIL_SENDING_LEASE_SECONDS, so a hung send is not resent.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Shopfront <shop@localhost>")
# How long a sender's claim on an e-mail lasts (projections.subscribers.notifications): an e-mail still
# "sending" after this is taken for lost with its sender, and sent again under the same Message-ID, which the
# receiver collapses. A sender renews its claim before each message, so this must be long beside one send,
# a slow mail server's included (EMAIL_TIMEOUT bounds it): a live sender slower than this gets its message
# sent a second time. Shorter, a dead sender's e-mail goes out sooner.
EMAIL_SENDING_LEASE_SECONDS = env.float("EMAIL_SENDING_LEASE_SECONDS", default=60.0)

# --- Asynchronous commands (Prefer: respond-async) ---------------------------
# How often beat looks for accepted commands that no task ran, and how old such a
# command must be: younger ones are most likely still queued behind others.
COMMAND_SWEEP_SECONDS = env.float("COMMAND_SWEEP_SECONDS", default=10.0)
COMMAND_SWEEP_AFTER_SECONDS = env.float("COMMAND_SWEEP_AFTER_SECONDS", default=30.0)

# --- API -------------------------------------------------------------------
# The largest request body the API reads; larger ones answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_REQUEST_BYTES", default=256 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "config.schema.QualifiedNameAutoSchema",
    # Rates of the query API's throttles (queries/throttles.py), per client IP / per user.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON_RATE", default="600/minute"),
        "user": env("THROTTLE_USER_RATE", default="3000/minute"),
        # Token sign-ins per client IP: enough for people, too few for password guessing.
        "sign_in": env("THROTTLE_SIGN_IN_RATE", default="20/minute"),
    },
    # The client's IP for the anonymous throttle: 0 trusts no X-Forwarded-For (set it
    # to the number of proxies in front of the app), so clients cannot spoof it.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}

# --- Query API -------------------------------------------------------------
QUERY_PAGE_SIZE = env.int("QUERY_PAGE_SIZE", default=20)
QUERY_MAX_PAGE_SIZE = env.int("QUERY_MAX_PAGE_SIZE", default=100)
# How long a request with X-Min-Position waits for its projection before answering 503.
QUERY_MIN_POSITION_WAIT_SECONDS = env.float("QUERY_MIN_POSITION_WAIT_SECONDS", default=2.0)
# Requests one client (by address) may hold waiting for a read position, per web process.
QUERY_WAITS_PER_CLIENT = env.int("QUERY_WAITS_PER_CLIENT", default=8)
# How long a web process answers with a read position it has read already (queries.consistency):
# one statement fewer per query, for a position at most this much older than the data. scripts/serve
# sets 0.05 for the web processes; elsewhere (management commands, tests in-process) it is read afresh.
READ_POSITION_REUSE_SECONDS = env.float("READ_POSITION_REUSE_SECONDS", default=0.0)
# A live stream's heartbeat comment, and how often each web process re-reads the event log for
# changes whose announcement was lost (Redis away): so proxies keep it open, and nothing waits longer.
STREAM_HEARTBEAT_SECONDS = env.float("STREAM_HEARTBEAT_SECONDS", default=15.0)

# The currency the shop sells in (ISO 4217): new orders record it, and orders placed before
# events carried a currency (OrderPlaced v1) are read as having been in it.
SHOP_CURRENCY = env("SHOP_CURRENCY", default="EUR").upper()
# How long a cached list response is kept; its key changes with every checkpoint advance anyway.
QUERY_CACHE_SECONDS = env.int("QUERY_CACHE_SECONDS", default=300)

SPECTACULAR_SETTINGS = {
    "TITLE": "Shopfront CQRS API",
    "DESCRIPTION": "Commands on /api/commands/, queries on /api/queries/.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.document_command_errors",
        "queries.openapi.document_the_stream",
    ],
}

# --- Security (check --deploy is clean with DEBUG off) ---------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------
# WhiteNoise serves them from the web process itself. With DEBUG off they come from STATIC_ROOT,
# filled by `collectstatic` (the Docker image runs it when it is built): names carry a content
# hash, so they are cached for good, and gzip copies sit beside them. With DEBUG on (`make run`,
# the tests) they come straight from the apps, so nothing needs collecting and no manifest exists.
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Decided here rather than from DEBUG at each request: the test runner turns DEBUG off at run time,
# and without collected files WhiteNoise would then look for (and warn about) a missing STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
LOGIN_URL = "/admin/login/"

# LOG_FORMAT: "json" (one object per line, the default with DEBUG off) or "plain".
LOG_FORMAT = env("LOG_FORMAT", default="plain" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

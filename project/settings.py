"""Settings: every value comes from the environment (12-factor), with the defaults of
DESIGN.md's contract. `.env.example` documents each variable.

With nothing set, the product runs on one machine with no services: SQLite and the
kombu filesystem broker under ``var/``, the Wappi sandbox and the offline LLM.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import zoneinfo
from decimal import Decimal
from functools import partial
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from contacts.phones import normalize_phone
from project.lib.db import green_pool
from project.lib.settings_parsing import (
    Env,
    InvalidSetting,
    check_hours_window,
    check_jitter,
    check_llm_backend,
    check_time_limits,
    parse_bin,
    parse_check_ids,
    parse_folder,
    parse_hosts,
    parse_hours_list,
    parse_languages,
    parse_networks,
    parse_origins,
    parse_prices,
    parse_rate,
    parse_swagger_dist,
    parse_token,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# Every variable is read strictly (project/lib/settings_parsing.py): a value the product cannot use
# stops the start with one line naming the variable and an example, never a silent default.
env = Env()
# What each variable was held to: `manage.py check` holds a setting of the same name to the same
# rule after start-up too (project/checks.py). The dict fills as the reads below run.
ENV_RULES = env.rules
# A local `.env` is read when present (docker compose passes the same file as the
# process environment); real environment variables always win. ENV_FILE="" reads none.
_env_file = env.env_file("ENV_FILE", default=BASE_DIR / ".env")
if _env_file:
    environ.Env.read_env(str(_env_file), overwrite=False)
# `NAME=` with nothing after it (as .env.example ships) means "use the default", in .env
# and in docker compose's env_file alike, never "the empty string".
for _key in [k for k, v in os.environ.items() if v == ""]:
    del os.environ[_key]

# Examples shown when the Wappi token or the Kaspi address is refused (both are read twice below).
_WAPPI_HINT = "the API token from Wappi's cabinet"
_KASPI_HINT = "https://mtokentest.kaspi.kz:8545/r3"

# Local state of the one-machine run: the SQLite file, the broker folders, the cache.
VAR_DIR = env.folder("VAR_DIR", default=BASE_DIR / "var", example="./var", must_exist=False)

# --- Django core -----------------------------------------------------------------

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.secret_key("SECRET_KEY", strong=not DEBUG)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off: set it in the environment or .env "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    SECRET_KEY = "django-insecure-local-development-only"  # noqa: S105 - DEBUG only

ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [], parse=parse_hosts
)
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated host names).")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[], parse=parse_origins)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "project.apps.ProjectConfig",
    "contacts",
    "messaging",
    "followups",
    "payments",
    "calls",
    "ai",
    "assistant",
    "api",
    "dashboard",
    "backoffice",
    "evals",
]
# The built-in emulators of Wappi and Kaspi Pay (the `sandbox` app: a chat page to play a customer,
# invoices an operator pays by hand). A development tool: installed and mounted only when on; by
# default in a DEBUG run (`make run`) that lacks a real Wappi token or Kaspi contract. Without
# DEBUG each sandbox (SANDBOX_ENABLED, WAPPI_SANDBOX, KASPI_SANDBOX) runs only when its own
# variable says true: none follows from another, and a missing WAPPI_TOKEN means Wappi is "not
# configured", never the emulator. One that is on says so at start (ProjectConfig.ready) and on /health.
SANDBOX_ENABLED = env.bool(
    "SANDBOX_ENABLED",
    default=DEBUG
    and not (
        env.token("WAPPI_TOKEN", example=_WAPPI_HINT) and env.url("KASPI_BASE_URL", default="", example=_KASPI_HINT)
    ),
)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: locks out repeated failed admin logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"
ASGI_APPLICATION = "project.asgi.application"

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

# --- Database ----------------------------------------------------------------------

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker threads, beat and Flower write to one file at once: WAL lets readers
    # run beside a writer, IMMEDIATE takes the write lock at BEGIN (so a busy timeout
    # applies instead of a "database is locked" on lock upgrade), and `timeout` is the
    # busy timeout in seconds.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
else:
    # A process on a green pool (the model worker: `celery -P gevent`, which patches the
    # standard library before settings load) runs hundreds of tasks at once, each in its own
    # greenlet: a persistent connection per greenlet would open one per task. There the
    # greenlets share a bounded pool (psycopg_pool) and hand their connection back before
    # every model call (project.lib.db), so 200 calls in flight hold a few connections.
    # Elsewhere (web, the threads worker) each thread keeps its own for CONN_MAX_AGE.
    # 40: measured (docs/scaling.md) - a pool of 20 made 200 greenlets queue for connections
    # (each holds its own through the CPU-bound work between model calls).
    DATABASE_POOL_SIZE = env.int("DATABASE_POOL_SIZE", default=40 if green_pool() else 0, minimum=0)
    if DATABASE_POOL_SIZE:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_SIZE,
            "timeout": 30,
            "max_idle": 60,
        }
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Wappi's webhook may carry a media file as base64 in `body` (the link is what we use): allow
# bodies of a few MB. The webhook reads its body only after the secret matched.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16 * 1024 * 1024)

# --- Cache (locks, debounce, heartbeats) ---------------------------------------------
# Redis in production and tests. The one-machine run uses the database cache: its `add` is
# atomic (a file cache's is check-then-set), which the locks need. `migrate` creates the table.
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://django_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Django's Redis cache with one connection pool and client per process (project/lib/cache.py),
    # not one per thread or greenlet.
    CACHES["default"]["BACKEND"] = "project.lib.cache.RedisCache"

# --- Time and language ---------------------------------------------------------------

# Asia/Almaty is UTC+5 since 2024-03-01; a host's older time zone database still says
# UTC+6. Read zones only from the pinned `tzdata` package, never from the host.
zoneinfo.reset_tzpath(to=[])

LANGUAGE_CODE = "ru"
TIME_ZONE = env.time_zone("TIMEZONE", default="Asia/Almaty")
USE_I18N = True
USE_TZ = True

# Calls with a manager: slot length, how far ahead at least, and calls per slot.
CALL_SLOT_MINUTES = env.int("CALL_SLOT_MINUTES", default=30, minimum=1, maximum=24 * 60)
CALL_MIN_LEAD_MINUTES = env.int("CALL_MIN_LEAD_MINUTES", default=60)
MANAGER_CAPACITY = env.int("MANAGER_CAPACITY", default=1, minimum=1)
# How many days ahead a call can be booked at most (the model cannot book the year 9999).
CALL_BOOKING_HORIZON_DAYS = env.int("CALL_BOOKING_HORIZON_DAYS", default=60, minimum=1, maximum=366)
WORKING_HOURS_START = env.hour("WORKING_HOURS_START", default=10)
WORKING_HOURS_END = env.hour("WORKING_HOURS_END", default=18)
check_hours_window(
    WORKING_HOURS_START,
    WORKING_HOURS_END,
    start_name="WORKING_HOURS_START",
    end_name="WORKING_HOURS_END",
    example="18 or 18:00",
)

# --- Static files ----------------------------------------------------------------------

# Production (the Docker image, a plain server) serves collected, hashed files from STATIC_ROOT
# (`manage.py collectstatic`; the web process refuses to start without them, project/preflight.py);
# the one-machine run and the tests serve straight from the apps, with no collectstatic step.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=not DEBUG)
STATIC_URL = "static/"
STATIC_ROOT = (
    env.folder(
        "STATIC_ROOT",
        default=BASE_DIR / "staticfiles",
        example="/srv/sales-assistant/staticfiles",
        base=BASE_DIR,
        must_exist=False,
    )
    if STATIC_MANIFEST
    else None
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Security ------------------------------------------------------------------------------
# Behind a TLS-terminating proxy set SECURE_SSL_REDIRECT and the cookie flags to true;
# they stay off by default so DEBUG=false still answers plain HTTP on localhost.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# The reverse proxies in front of gunicorn (addresses or networks, as gunicorn sees them: in
# docker compose the bridge's gateway, e.g. 172.16.0.0/12). Only from these does gunicorn believe
# X-Forwarded-Proto (https) and the admin's lockout believe X-Forwarded-For; a client connecting
# directly can set neither. "*" is refused: anyone could claim any address.
FORWARDED_ALLOW_IPS = env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"], parse=parse_networks)
# Django's own reading of X-Forwarded-Proto believes any client: only for a server that is not
# gunicorn behind a proxy (gunicorn already sets the scheme from FORWARDED_ALLOW_IPS's proxies).
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The TLS checks of `check --deploy` are decided by the operator through the variables
# above (a plain-HTTP localhost or proxy setup is supported on purpose), so they are
# silenced here rather than forced on: W004 HSTS, W008 SSL redirect, W012/W016 secure cookies.
SILENCED_SYSTEM_CHECKS = env.list(
    "SILENCED_SYSTEM_CHECKS",
    default=["security.W004", "security.W008", "security.W012", "security.W016"],
    parse=parse_check_ids,
)

# --- Logging: structured (key=value for people, JSON for machines), secrets redacted ---

LOG_LEVEL = env.choice("LOG_LEVEL", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOG_FORMAT = env.choice("LOG_FORMAT", default="console" if DEBUG else "json", choices=("json", "console"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "project.logging.RedactSecretsFilter"}},
    "formatters": {"structured": {"()": "project.logging.build_formatter", "fmt": LOG_FORMAT}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "structured", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        # The web server's own lines (project/gunicorn.conf.py hands gunicorn this LOGGING):
        # through the root's handlers, structured and redacted like every other line.
        "gunicorn.error": {"level": LOG_LEVEL, "propagate": True},
        "gunicorn.access": {"level": LOG_LEVEL, "propagate": True},
    },
}


def _log_file(value: object) -> str:
    # A file in an existing folder (relative paths: from the project folder).
    path = Path(str(value).strip()).expanduser()
    path = path if path.is_absolute() else BASE_DIR / path
    if path.is_dir() or not path.parent.is_dir():
        raise InvalidSetting("LOG_FILE", value, "a file in an existing folder", "/var/log/sales-assistant/app.log")
    return str(path)


# Optional: every process (web, worker, beat, Flower) also writes its lines to this one file,
# redacted like the console's, as JSON lines; rotated at midnight, LOG_FILE_BACKUP_DAYS kept.
LOG_FILE = env.read("LOG_FILE", default="", parse=_log_file)
LOG_FILE_BACKUP_DAYS = env.int("LOG_FILE_BACKUP_DAYS", default=30, minimum=1)
if LOG_FILE:
    LOGGING["handlers"]["file"] = {
        "()": "project.logging.file_handler",
        "filename": LOG_FILE,
        "backup_days": LOG_FILE_BACKUP_DAYS,
        "formatter": "json",
        "filters": ["redact"],
    }
    # A file is read by tools (grep, jq, a log shipper): one JSON object per line, whatever LOG_FORMAT.
    LOGGING["formatters"]["json"] = {"()": "project.logging.build_formatter", "fmt": "json"}
    LOGGING["root"]["handlers"].append("file")

# --- Celery -----------------------------------------------------------------------------

CELERY_BROKER_URL = env.broker_url("CELERY_BROKER_URL", default="filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's filesystem transport: every process (web, worker, beat, flower) must see
    # the same folders. It supports fanout, so remote control and events work too.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers an unacked (acks_late) task after this many seconds; it must be
    # longer than any ETA/countdown we use (we never use more than a few minutes).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600, minimum=1),
        # A worker takes its next task from the first non-empty queue in CELERY_TASK_QUEUES'
        # order (not round robin): storing customers' messages and sending replies, both short,
        # are never starved by slow model calls holding the threads.
        "queue_order_strategy": "priority",
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Nothing reads task results: status lives in our own rows.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
# A worker started without -Q consumes all four, in this order of priority (see above).
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in ("ingest", "send", "default", "llm"))
# Routing by task name, one entry per task and no patterns: short Wappi work (ingest, send),
# slow model calls (llm), the rest. Task names are a contract with running systems (beat rows,
# messages in the broker); tests/project/test_celery_config.py checks this list against the
# registered tasks, so a new or renamed task must be routed here on purpose.
CELERY_TASK_ROUTES = {
    "messaging.ingest_webhook": {"queue": "ingest"},
    "messaging.poll_wappi": {"queue": "ingest"},
    "messaging.send_outgoing": {"queue": "send"},
    "messaging.reconcile_outgoing": {"queue": "send"},
    "messaging.sweep_outbox": {"queue": "send"},
    "messaging.sweep_inbound": {"queue": "send"},
    "messaging.voice_transcribe": {"queue": "llm"},
    "messaging.check_wappi_status": {"queue": "default"},
    "ai.process_incoming": {"queue": "llm"},
    "ai.answer_pending": {"queue": "llm"},
    "ai.retry_pending": {"queue": "llm"},
    "ai.reclassify": {"queue": "llm"},
    "ai.refresh_knowledge_base": {"queue": "llm"},
    "ai.apply_retention": {"queue": "default"},
    "assistant.handoff_brief": {"queue": "llm"},
    "assistant.check_handoffs": {"queue": "default"},
    "followups.run_due": {"queue": "default"},
    "payments.check_payment": {"queue": "default"},
    "payments.expire_invoices": {"queue": "default"},
    "payments.post_purchase_tick": {"queue": "default"},
    "contacts.send_call_reminders": {"queue": "default"},
    "project.heartbeat": {"queue": "default"},
    "evals.run": {"queue": "default"},
}
# Every task is written to be idempotent, so it is acknowledged only after it ran: a
# worker killed mid-task leaves the message to be redelivered, not lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=120, minimum=1)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=180, minimum=1)
check_time_limits(CELERY_TASK_SOFT_TIME_LIMIT, CELERY_TASK_TIME_LIMIT)
# Celery's Django fix-up closes every database connection before and after each task unless
# this is set: a new PostgreSQL session per stored message and per send (2,700 sessions in the
# one-minute load test, PostgreSQL's CPU close to the workers'). With it set the fix-up leaves
# them alone and project.celery applies Django's own rule around each task instead, as a web
# request does: a connection is kept for CONN_MAX_AGE and replaced once it broke.
CELERY_DB_REUSE_MAX = 1_000_000_000
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The work is I/O bound (Gemini, Wappi, the database): one worker process with a pool
# of threads serves all four queues. The threads pool does not enforce the time limits
# above (prefork does); every outbound HTTP call carries its own timeout instead.
CELERY_WORKER_POOL = env.choice(
    "CELERY_WORKER_POOL", default="threads", choices=("threads", "prefork", "solo", "processes", "eventlet", "gevent")
)
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=32, minimum=1)
# The process shape (Procfile, docker-compose.yml): the model worker consumes only `llm` with
# this pool and concurrency (gevent: hundreds of slow model calls in flight, one greenlet each,
# no thread each; `threads` is the fallback), the other worker ingest/send/default with the
# threads pool above. gevent must patch the standard library before anything loads, so the
# choice goes on the command line: `celery -A project worker $(python manage.py worker_options
# llm)`. On SQLite (`make run` without DATABASE_URL) the default is threads: a greenlet waiting
# for SQLite's write lock would block the whole process.
CELERY_LLM_POOL = env.choice(
    "CELERY_LLM_POOL",
    default="threads" if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else "gevent",
    choices=("gevent", "threads"),
)
CELERY_LLM_CONCURRENCY = env.int(
    "CELERY_LLM_CONCURRENCY", default=200 if CELERY_LLM_POOL == "gevent" else 32, minimum=1
)
# A worker writes a lease (its name, in the cache) every WORKER_LEASE_SECONDS / 3; a worker
# whose lease lapsed is dead: another worker re-queues the tasks it held at once and has the
# sends it had in flight reconciled (project.lib.liveness, project.celery).
WORKER_LEASE_SECONDS = env.int("WORKER_LEASE_SECONDS", default=15, minimum=3)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SYNC_EVERY = 1

# Periodic tasks that `migrate` registers (see project/schedules.py). Each value is the
# interval in seconds; an operator may change or disable a row in the admin, and a
# changed value here is applied at the next migrate.
HEARTBEAT_INTERVAL = env.seconds("HEARTBEAT_INTERVAL", default=30)
PERIODIC_TASKS = {
    "project.heartbeat": HEARTBEAT_INTERVAL,
    "messaging.poll_wappi": env.seconds("POLLING_INTERVAL", default=5.0),
    "messaging.sweep_outbox": env.seconds("OUTBOX_SWEEP_INTERVAL", default=60.0),
    "messaging.sweep_inbound": env.seconds("OUTBOX_SWEEP_INTERVAL", default=60.0),
    "ai.retry_pending": env.seconds("AI_RETRY_INTERVAL", default=60.0),
    "contacts.send_call_reminders": env.seconds("CALL_REMINDER_INTERVAL", default=60.0),
    "ai.refresh_knowledge_base": env.seconds("KNOWLEDGE_REFRESH_INTERVAL", default=60.0),
    "messaging.check_wappi_status": env.seconds("WAPPI_STATUS_INTERVAL", default=300.0),
    "followups.run_due": env.seconds("FOLLOW_UP_RUN_INTERVAL", default=60.0),
    "assistant.check_handoffs": env.seconds("HANDOFF_CHECK_INTERVAL", default=60.0),
    "ai.apply_retention": 24 * 3600.0,
}

# --- Product settings (DESIGN.md contract) -----------------------------------------------

COMPANY_NAME = env.text("COMPANY_NAME", default="Наша компания")

WAPPI_BASE_URL = env.url("WAPPI_BASE_URL", default="https://wappi.pro")
WAPPI_TOKEN = env.token("WAPPI_TOKEN", example=_WAPPI_HINT)
WAPPI_PROFILE_ID = env.token("WAPPI_PROFILE_ID", example="the profile id from Wappi's cabinet (1a2b3c4d-5e6f)")
# It travels in the webhook URL (?secret=): letters, digits and ._~- only.
WAPPI_WEBHOOK_SECRET = env.token(
    "WAPPI_WEBHOOK_SECRET",
    example="the output of python -c 'import secrets; print(secrets.token_urlsafe(32))'",
    url_safe=True,
)
# A rotation: the old secret(s), comma-separated, still let in until Wappi has the new one
# (README, "Rotating the webhook secret"). Empty the variable once the rotation is done.
WAPPI_WEBHOOK_SECRET_PREVIOUS = env.read(
    "WAPPI_WEBHOOK_SECRET_PREVIOUS",
    default=[],
    parse=lambda v: [
        parse_token(item.strip(), name="WAPPI_WEBHOOK_SECRET_PREVIOUS", example="old-secret", url_safe=True)
        for item in (v if isinstance(v, list) else str(v).split(","))
        if str(item).strip()
    ],
)
WAPPI_SANDBOX = env.bool("WAPPI_SANDBOX", default=DEBUG and SANDBOX_ENABLED and not WAPPI_TOKEN)
if WAPPI_SANDBOX and WAPPI_TOKEN:
    raise ImproperlyConfigured("WAPPI_SANDBOX cannot be on while a real WAPPI_TOKEN is configured.")
# Where the built-in Wappi emulator answers (our own web server) when WAPPI_SANDBOX is on.
WAPPI_SANDBOX_URL = env.url(
    "WAPPI_SANDBOX_URL",
    default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000, minimum=1, maximum=65535)}/sandbox/wappi",
)
if WAPPI_SANDBOX:
    # The emulator's API token and our webhook secret. With DEBUG (a local run) the published
    # values; otherwise derived from SECRET_KEY, so a server that forgot its WAPPI_TOKEN does
    # not leave the emulator (or our webhook) open to anyone who read this code.
    _sandbox_seed = hmac.new(SECRET_KEY.encode(), b"wappi-sandbox", hashlib.sha256).hexdigest()
    WAPPI_SANDBOX_TOKEN = env.token(
        "WAPPI_SANDBOX_TOKEN",
        default="sandbox-token" if DEBUG else f"sandbox-{_sandbox_seed[:32]}",
        example="sandbox-token",
    )
    if not WAPPI_WEBHOOK_SECRET:
        WAPPI_WEBHOOK_SECRET = "sandbox-webhook-secret" if DEBUG else _sandbox_seed[32:]
else:
    WAPPI_SANDBOX_TOKEN = ""
# Seconds: reads and sends (Wappi's sync sends can take long), media downloads.
WAPPI_TIMEOUT = env.seconds("WAPPI_TIMEOUT", default=25.0)
WAPPI_MEDIA_TIMEOUT = env.seconds("WAPPI_MEDIA_TIMEOUT", default=60.0)
# Voice/media is fetched only from these hosts (a forged link must not reach internal URLs):
# Wappi's storage hosts plus the host of the Wappi API we talk to (the sandbox, locally).
WAPPI_MEDIA_HOSTS = env.list(
    "WAPPI_MEDIA_HOSTS",
    default=["wapi-uploads7d.storage.yandexcloud.net", "storage.yandexcloud.net", "fs.wappi.pro"],
    parse=partial(parse_hosts, example="fs.wappi.pro,storage.yandexcloud.net"),
)
POLLING_INTERVAL = env.seconds("POLLING_INTERVAL", default=5.0)
BOT_PAUSE_AFTER_OPERATOR = env.float("BOT_PAUSE_AFTER_OPERATOR", default=12.0)  # hours
# Sending: a randomised gap between sends to one number, a global cap, and the attempts
# before a message is marked failed.
SEND_MIN_GAP_SECONDS = env.float("SEND_MIN_GAP_SECONDS", default=1.5)
SEND_GAP_JITTER_SECONDS = env.float("SEND_GAP_JITTER_SECONDS", default=1.5)
SEND_MAX_PER_MINUTE = env.int("SEND_MAX_PER_MINUTE", default=40, minimum=1)
SEND_MAX_ATTEMPTS = env.int("SEND_MAX_ATTEMPTS", default=6, minimum=1)
# The number-safety governor (messaging.number): pacing of our one WhatsApp number, whatever the
# recipient. One send at a time, at least SEND_NUMBER_GAP_SECONDS (+ up to SEND_GAP_JITTER_SECONDS)
# apart; caps per hour and per day; chats we open (a number that never wrote to us) per day; a
# warm-up ramp for a newly linked number (0 days: off, for an established number).
SEND_NUMBER_GAP_SECONDS = env.float("SEND_NUMBER_GAP_SECONDS", default=1.0)
SEND_MAX_PER_HOUR = env.int("SEND_MAX_PER_HOUR", default=600, minimum=1)
SEND_MAX_PER_DAY = env.int("SEND_MAX_PER_DAY", default=3000, minimum=1)
SEND_NEW_CHATS_PER_DAY = env.int("SEND_NEW_CHATS_PER_DAY", default=20)
SEND_WARMUP_DAYS = env.int("SEND_WARMUP_DAYS", default=0)
# The reply-ratio guard: a contact who left this many proactive messages unanswered gets no more;
# when more than PROACTIVE_UNANSWERED_SHARE of the last week's proactive messages (at least
# PROACTIVE_UNANSWERED_MIN_SAMPLE of them) got no answer, proactive sending stops and managers are told.
PROACTIVE_MAX_UNANSWERED = env.int("PROACTIVE_MAX_UNANSWERED", default=5, minimum=1)
PROACTIVE_UNANSWERED_SHARE = env.float("PROACTIVE_UNANSWERED_SHARE", default=0.85, positive=True)
if PROACTIVE_UNANSWERED_SHARE > 1:
    raise ImproperlyConfigured(
        f"PROACTIVE_UNANSWERED_SHARE: {PROACTIVE_UNANSWERED_SHARE:g} is not a share between 0 and 1; write e.g. 0.85"
    )
PROACTIVE_UNANSWERED_MIN_SAMPLE = env.int("PROACTIVE_UNANSWERED_MIN_SAMPLE", default=20, minimum=1)
# Account signals: this many undelivered messages within 15 minutes pause proactive sending; a
# restriction or temporary ban keeps it paused at least NUMBER_RESTRICTION_PAUSE_HOURS.
NUMBER_UNDELIVERED_BURST = env.int("NUMBER_UNDELIVERED_BURST", default=5, minimum=1)
NUMBER_RESTRICTION_PAUSE_HOURS = env.float("NUMBER_RESTRICTION_PAUSE_HOURS", default=24.0, positive=True)
# "typing..." before a reply, for a time that grows with its length (at most WAPPI_TYPING_MAX_SECONDS).
WAPPI_TYPING = env.bool("WAPPI_TYPING", default=False)
WAPPI_TYPING_MAX_SECONDS = env.float("WAPPI_TYPING_MAX_SECONDS", default=6.0)
# A bot's reply or fallback still unsent after this many hours is not sent (a late answer
# confuses more than it helps); the managers are told instead.
OUTBOX_MAX_AGE_HOURS = env.int("OUTBOX_MAX_AGE_HOURS", default=6, minimum=1)

GEMINI_API_KEY = env.token("GEMINI_API_KEY", example="the key from Google AI Studio (AIza...)")
GEMINI_BASE_URL = env.url("GEMINI_BASE_URL", default="", example="https://generativelanguage.googleapis.com")
# The spec's gemini-2.5-pro retires on 2026-12-01; these are its named replacements.
GEMINI_MODEL = env.model("GEMINI_MODEL", default="gemini-3.8-flash")
GEMINI_FAST_MODEL = env.model("GEMINI_FAST_MODEL", default="gemini-3.5-flash-lite")
# Seconds per model call (the SDK has no default timeout).
# USD per 1M tokens: input, cached input, output (thinking is billed as output), and "storage"
# per 1M tokens per hour of an explicit context cache. Prices from
# Google's pricing page (2026-09-20); keep them current here or in LLM_PRICES (JSON).
LLM_PRICES = env.read(
    "LLM_PRICES",
    parse=lambda value: parse_prices(value, name="LLM_PRICES"),
    default={
        "gemini-3.8-flash": {"input": 0.75, "cached": 0.075, "output": 3.75, "storage": 1.00},
        "gemini-3.7-flash": {"input": 0.75, "cached": 0.075, "output": 3.75, "storage": 1.00},
        "gemini-3.5-flash": {"input": 1.50, "cached": 0.15, "output": 9.00, "storage": 1.00},
        "gemini-3.5-flash-lite": {"input": 0.30, "cached": 0.03, "output": 2.50, "storage": 1.00},
        "gemini-3.1-flash-lite": {"input": 0.25, "cached": 0.025, "output": 1.50, "storage": 1.00},
        "gemini-2.5-flash-lite": {"input": 0.10, "cached": 0.01, "output": 0.40, "storage": 1.00},
    },
)
# With the SDK's 3 attempts a call can take 3x this: keep it under the task time limits.
GEMINI_TIMEOUT = env.seconds("GEMINI_TIMEOUT", default=30.0)
LLM_BACKEND = env.choice(
    "LLM_BACKEND", default="gemini" if GEMINI_API_KEY else "offline", choices=("gemini", "offline")
)
check_llm_backend(LLM_BACKEND, api_key=GEMINI_API_KEY)

# Explicit context caching of the sales assistant's stable prefix (system instruction with the
# knowledge base, and the tool declarations). Below the model's minimum size no cache is made
# (Gemini 3.x Flash: 4,096 tokens); the server's "too small" answer is authoritative.
GEMINI_CACHE_ENABLED = env.bool("GEMINI_CACHE_ENABLED", default=True)
GEMINI_CACHE_TTL_SECONDS = env.int("GEMINI_CACHE_TTL_SECONDS", default=3600, minimum=300)
GEMINI_CACHE_MIN_TOKENS = env.int("GEMINI_CACHE_MIN_TOKENS", default=4096)

REPLY_DEBOUNCE_SECONDS = env.float("REPLY_DEBOUNCE_SECONDS", default=4.0)
MAX_CONTEXT_MESSAGES = env.int("MAX_CONTEXT_MESSAGES", default=20, minimum=1)
# Limits on the model bill. A message's text reaches the model cut to this many characters
# (the stored message stays whole); one contact's model calls use at most this many tokens a
# local day (0: no limit); and no model request is made once the local day's calls cost this
# many USD (0: no limit).
LLM_MAX_MESSAGE_CHARS = env.int("LLM_MAX_MESSAGE_CHARS", default=2000, minimum=100)
LLM_CONTACT_DAILY_TOKENS = env.int("LLM_CONTACT_DAILY_TOKENS", default=200_000)
LLM_DAILY_BUDGET_USD = env.decimal("LLM_DAILY_BUDGET_USD", default=Decimal("0"))
# The languages the assistant answers in: each customer in theirs (ai.rules.language tells Kazakh
# from Russian), Russian when unsure or when the customer's language is not listed.
REPLY_LANGUAGES = env.list("REPLY_LANGUAGES", default=["ru", "kk"], parse=parse_languages)
# A customer's photo reaches the model as an image only up to this size (bytes; larger ones are
# described to the model as "a photo too large to show"), at most IMAGE_MAX_PER_REPLY per answer.
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=5 * 1024 * 1024, minimum=1024)
IMAGE_MAX_PER_REPLY = env.int("IMAGE_MAX_PER_REPLY", default=3, minimum=0)

# Data retention, in days (0: keep forever, the default), applied daily by ai.apply_retention.
# Each conversation keeps its last MAX_CONTEXT_MESSAGES messages whatever their age, and the
# outbox its unsent rows; a transcript's voice note stays (shown as a voice note).
RETENTION_MESSAGES_DAYS = env.int("RETENTION_MESSAGES_DAYS", default=0, minimum=0)
RETENTION_TRANSCRIPTS_DAYS = env.int("RETENTION_TRANSCRIPTS_DAYS", default=0, minimum=0)
RETENTION_MODEL_CALLS_DAYS = env.int("RETENTION_MODEL_CALLS_DAYS", default=0, minimum=0)
# Normalised (77012345678): a number contacts.phones cannot read stops the start.
MANAGER_PHONES = env.phones("MANAGER_PHONES", default=[], normalize=normalize_phone)
# A hand-off (assistant.handoff) must be answered by a person within this many working minutes
# (WORKING_HOURS_START-END in TIMEZONE, Monday to Friday, not on public holidays): then the
# managers are reminded, and as long again later the owner's HANDOFF_ESCALATION_PHONES are told.
HANDOFF_ANSWER_MINUTES = env.int("HANDOFF_ANSWER_MINUTES", default=15, minimum=1, maximum=7 * 24 * 60)
HANDOFF_ESCALATION_PHONES = env.phones("HANDOFF_ESCALATION_PHONES", default=[], normalize=normalize_phone)
# The address operators open the admin at, for links in the managers' WhatsApp briefs
# (empty: the brief names the admin path only).
PUBLIC_BASE_URL = env.url("PUBLIC_BASE_URL", default="", example="https://crm.example.kz").rstrip("/")
# A relative path is relative to the project folder, wherever the process was started. A folder
# that is not there stops the start (the assistant would answer with no knowledge base).
KNOWLEDGE_BASE_PATH = env.folder(
    "KNOWLEDGE_BASE_PATH",
    default=BASE_DIR / "knowledge_base",
    example="./knowledge_base/",
    base=BASE_DIR,
    must_exist=True,
)
# A knowledge base up to this size goes whole into the (cached) stable prefix; a larger one is
# searched per request and its KNOWLEDGE_TOP_CHUNKS best chunks travel with the conversation.
KNOWLEDGE_PROMPT_MAX_CHARS = env.int("KNOWLEDGE_PROMPT_MAX_CHARS", default=120_000)
KNOWLEDGE_TOP_CHUNKS = env.int("KNOWLEDGE_TOP_CHUNKS", default=8, minimum=1)
# Each PDF is read in a child process under these limits (a deflate bomb, a file that keeps the
# parser busy, a huge page count); a file that fails is not read again until it changes.
KNOWLEDGE_PDF_TIMEOUT_SECONDS = env.seconds("KNOWLEDGE_PDF_TIMEOUT_SECONDS", default=60.0)
KNOWLEDGE_PDF_MAX_MEMORY_MB = env.int("KNOWLEDGE_PDF_MAX_MEMORY_MB", default=512, minimum=128)
KNOWLEDGE_PDF_MAX_PAGES = env.int("KNOWLEDGE_PDF_MAX_PAGES", default=300, minimum=1)
KNOWLEDGE_PDF_MAX_FILE_MB = env.int("KNOWLEDGE_PDF_MAX_FILE_MB", default=25, minimum=1)

ENABLE_FOLLOW_UPS = env.bool("ENABLE_FOLLOW_UPS", default=True)
FOLLOW_UP_INTERVALS = env.read(
    "FOLLOW_UP_INTERVALS",
    default=[24.0, 72.0, 168.0, 336.0, 720.0],
    parse=lambda value: parse_hours_list(value, name="FOLLOW_UP_INTERVALS", count=5, example="24,72,168,336,720"),
)
# When touches may go out (local time, TIMEZONE); Kazakhstan public holidays are skipped. Days as
# an operator writes them (mon-fri, mon,wed,fri, пн-пт, sun-tue...), held as ["mon", ...].
FOLLOW_UP_SEND_DAYS = env.weekdays("FOLLOW_UP_SEND_DAYS", default=["mon", "tue", "wed", "thu", "fri"])
FOLLOW_UP_SEND_START = env.hour("FOLLOW_UP_SEND_START", default=10)
FOLLOW_UP_SEND_END = env.hour("FOLLOW_UP_SEND_END", default=19)
check_hours_window(
    FOLLOW_UP_SEND_START,
    FOLLOW_UP_SEND_END,
    start_name="FOLLOW_UP_SEND_START",
    end_name="FOLLOW_UP_SEND_END",
    example="19 or 19:00",
)
# Minutes of random delay added when a touch is moved to the next window opening.
FOLLOW_UP_JITTER_MINUTES = env.int("FOLLOW_UP_JITTER_MINUTES", default=7)
check_jitter(
    FOLLOW_UP_JITTER_MINUTES,
    start=FOLLOW_UP_SEND_START,
    end=FOLLOW_UP_SEND_END,
    name="FOLLOW_UP_JITTER_MINUTES",
    window="FOLLOW_UP_SEND_START-FOLLOW_UP_SEND_END",
)
FOLLOW_UP_MIN_GAP_HOURS = env.float("FOLLOW_UP_MIN_GAP_HOURS", default=20.0)
FOLLOW_UP_BATCH_SIZE = env.int("FOLLOW_UP_BATCH_SIZE", default=200, minimum=1)
# Proactive messages (follow-ups, post-purchase) per WhatsApp number per local day.
PROACTIVE_DAILY_LIMIT = env.int("PROACTIVE_DAILY_LIMIT", default=100)

# --- Operators: REST API (api/) -------------------------------------------------------------
# Requests per token (per admin session; per address without credentials): "120/min", "2000/hour".
API_THROTTLE_RATE = env.read(
    "API_THROTTLE_RATE", default="120/min", parse=lambda v: parse_rate(v, name="API_THROTTLE_RATE")
)
# Where Swagger UI's JavaScript and CSS come from for /api/docs/: "SIDECAR" serves the copy in
# drf-spectacular-sidecar from our own static files (no CDN); or the URL of another copy.
API_SWAGGER_UI_DIST = env.read(
    "API_SWAGGER_UI_DIST", default="SIDECAR", parse=lambda v: parse_swagger_dist(v, name="API_SWAGGER_UI_DIST")
)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.StaffModelPermissions"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WhatsApp AI sales assistant API",
    "DESCRIPTION": (
        "Contacts, messages, follow-ups, calls and payments of the assistant, for staff only. "
        "Authenticate with `Authorization: Token <token>` (tokens: admin → Auth Token, or "
        "`manage.py create_api_token <username>`) or an admin session. Every error has the shape "
        '`{"error": {"code", "message", "details"}}`. Requests are limited per token (429 with Retry-After).'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAdminUser"],
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": API_SWAGGER_UI_DIST,
    "SWAGGER_UI_FAVICON_HREF": (
        f"{API_SWAGGER_UI_DIST}/favicon-32x32.png" if "://" in API_SWAGGER_UI_DIST else API_SWAGGER_UI_DIST
    ),
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": False},
}
# --- end of REST API block ---------------------------------------------------------------------

# --- Operators: dashboard, metrics, login protection -------------------------------------------
# Failed admin logins before a lockout (per username and IP), and the lockout in hours.
AXES_FAILURE_LIMIT = env.int("ADMIN_LOGIN_FAILURE_LIMIT", default=5, minimum=1)
AXES_COOLOFF_TIME = env.float("ADMIN_LOGIN_COOLOFF_HOURS", default=0.25, positive=True)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The lockout answer: a page in Russian with the wait, status 429 (dashboard/views.py).
AXES_LOCKOUT_CALLABLE = "dashboard.views.login_locked_out"
# The address a lockout holds: X-Forwarded-For's client only when the request came through a
# proxy named in FORWARDED_ALLOW_IPS (project/lib/client_ip.py), else the TCP peer.
AXES_CLIENT_IP_CALLABLE = "project.lib.client_ip.client_ip_address"
# django-axes logs every successful login at INFO; failures and lockouts stay (WARNING).
LOGGING["loggers"]["axes"] = {"level": "WARNING"}
# /metrics (project/metrics.py): a scraper presenting `Authorization: Bearer <METRICS_TOKEN>`,
# or one connecting from METRICS_ALLOWED_IPS (addresses or networks, comma-separated; the TCP
# peer address, never X-Forwarded-For). Neither: 401 (a token is configured) or 403.
METRICS_TOKEN = env.token(
    "METRICS_TOKEN", example="the output of python -c 'import secrets; print(secrets.token_urlsafe(32))'"
)
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"], parse=parse_networks)
# Outermost, so every answer is counted and timed (lockouts and redirects included).
MIDDLEWARE = ["project.metrics.RequestMetricsMiddleware", *MIDDLEWARE]
# --- end of dashboard block ---------------------------------------------------------------------

KASPI_BASE_URL = env.url("KASPI_BASE_URL", default="", example=_KASPI_HINT)
KASPI_API_KEY = env.token("KASPI_API_KEY", example="the API key from the Kaspi Pay cabinet")
KASPI_CERT_PATH = env.file("KASPI_CERT_PATH", example="/app/secrets/kaspi/client.pem")
KASPI_KEY_PATH = env.file("KASPI_KEY_PATH", example="/app/secrets/kaspi/client.key")
# Kaspi Pay QR API, enhanced scheme (payments/kaspi.py). KASPI_BASE_URL ends in the scheme
# prefix, e.g. https://mtokentest.kaspi.kz:8545/r3 (test) or the address in the bank's email.
# Client certificate (KASPI_CERT_PATH, PEM; KASPI_KEY_PATH when the key is a separate file)
# and the bank's CA bundle (kbs_root_ca.crt + kbs_ca.crt) are files, replaceable without a
# code change. KASPI_API_KEY belongs to the basic scheme, which cannot invoice by phone.
KASPI_CA_PATH = env.file("KASPI_CA_PATH", example="/app/secrets/kaspi/kbs_ca_bundle.crt")
KASPI_ORGANIZATION_BIN = env.read(
    "KASPI_ORGANIZATION_BIN", default="", parse=lambda v: parse_bin(v, name="KASPI_ORGANIZATION_BIN")
)
KASPI_DEVICE_TOKEN = env.token("KASPI_DEVICE_TOKEN", example="the DeviceToken that device/register returned")
KASPI_TIMEOUT = env.seconds("KASPI_TIMEOUT", default=15.0)
# The built-in Kaspi emulator (`make run`): on by default only with DEBUG when nothing real is
# configured; without DEBUG only when KASPI_SANDBOX says true (see SANDBOX_ENABLED).
KASPI_SANDBOX = env.bool("KASPI_SANDBOX", default=DEBUG and SANDBOX_ENABLED and not KASPI_BASE_URL)
if KASPI_SANDBOX and KASPI_BASE_URL:
    raise ImproperlyConfigured("KASPI_SANDBOX cannot be on while a real KASPI_BASE_URL is configured.")
if KASPI_SANDBOX:
    KASPI_BASE_URL = env.url(
        "KASPI_SANDBOX_URL",
        default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000, minimum=1, maximum=65535)}/sandbox/kaspi/r3",
    )
    KASPI_ORGANIZATION_BIN = KASPI_ORGANIZATION_BIN or "180340021791"
    KASPI_DEVICE_TOKEN = KASPI_DEVICE_TOKEN or "sandbox-device-token"
# Invoices above this many tenge wait for an operator's approval in the admin.
PAYMENT_APPROVAL_THRESHOLD = env.decimal("PAYMENT_APPROVAL_THRESHOLD", default=Decimal("100000"))
# At most one status check per invoice in this many seconds (Kaspi forbids polling).
PAYMENT_CHECK_DEBOUNCE_SECONDS = env.float("PAYMENT_CHECK_DEBOUNCE_SECONDS", default=30.0)
# How long a customer has to pay a remote invoice (Kaspi: 24 h).
PAYMENT_INVOICE_TTL_HOURS = env.float("PAYMENT_INVOICE_TTL_HOURS", default=24.0, positive=True)

# Kaspi Shop (marketplace) orders API (payments/kaspi_shop.py), for post-purchase messages.
KASPI_SHOP_BASE_URL = env.url("KASPI_SHOP_BASE_URL", default="https://kaspi.kz/shop/api/v2")
KASPI_SHOP_TOKEN = env.token("KASPI_SHOP_TOKEN", example="the token from the merchant cabinet (Settings -> API token)")
KASPI_SHOP_TIMEOUT = env.seconds("KASPI_SHOP_TIMEOUT", default=20.0)
# The widest creationDate window one request asks for (longer look-backs are split).
KASPI_SHOP_MAX_WINDOW_DAYS = env.float("KASPI_SHOP_MAX_WINDOW_DAYS", default=3.0, positive=True)
POST_PURCHASE_ENABLED = env.bool("POST_PURCHASE_ENABLED", default=False)
# Orders created this many days back are read (a delivery completes days after the order).
POST_PURCHASE_LOOKBACK_DAYS = env.float("POST_PURCHASE_LOOKBACK_DAYS", default=14.0, positive=True)
POST_PURCHASE_MAX_PER_CUSTOMER = env.int("POST_PURCHASE_MAX_PER_CUSTOMER", default=3, minimum=1)
POST_PURCHASE_CAP_WINDOW_DAYS = env.float("POST_PURCHASE_CAP_WINDOW_DAYS", default=30.0, positive=True)
POST_PURCHASE_COOLDOWN_HOURS = env.float("POST_PURCHASE_COOLDOWN_HOURS", default=24.0)
POST_PURCHASE_DAILY_LIMIT = env.int("POST_PURCHASE_DAILY_LIMIT", default=100)
# A message that could not go out within this many hours of the order event is dropped.
POST_PURCHASE_MAX_DELAY_HOURS = env.float("POST_PURCHASE_MAX_DELAY_HOURS", default=72.0, positive=True)

PERIODIC_TASKS["payments.expire_invoices"] = env.seconds("PAYMENT_EXPIRY_INTERVAL", default=300.0)
PERIODIC_TASKS["payments.post_purchase_tick"] = env.seconds("POST_PURCHASE_INTERVAL", default=300.0)

# --- Operations: backups and suspicious activity ------------------------------------------------
# Daily dumps (`manage.py backup_database`, the docker compose `backup` service): pg_dump -Fc
# files in BACKUP_DIR, dumps older than BACKUP_KEEP_DAYS pruned (the newest always kept). Unset:
# no backups are expected and /health says "off"; set: /health degrades when the newest dump is
# older than BACKUP_STALE_HOURS.
BACKUP_DIR = env.read(
    "BACKUP_DIR",
    default=None,
    parse=lambda v: parse_folder(v, name="BACKUP_DIR", example="/backups", must_exist=False),
)
BACKUP_KEEP_DAYS = env.int("BACKUP_KEEP_DAYS", default=14, minimum=1)
BACKUP_STALE_HOURS = env.float("BACKUP_STALE_HOURS", default=26.0, positive=True)
# Suspicious activity (messaging/suspicious.py): each kind tells the managers at most once an hour.
# Messages from one contact within 5 minutes; characters in one message; new contacts within an
# hour; webhook requests with a wrong secret within 10 minutes; sends that failed for good within
# 15 minutes; today's model cost above FACTOR x the usual day (and above MIN_USD).
SUSPICIOUS_FLOOD_MESSAGES = env.int("SUSPICIOUS_FLOOD_MESSAGES", default=30, minimum=2)
SUSPICIOUS_LONG_MESSAGE_CHARS = env.int("SUSPICIOUS_LONG_MESSAGE_CHARS", default=4000, minimum=100)
SUSPICIOUS_NEW_CONTACTS_PER_HOUR = env.int("SUSPICIOUS_NEW_CONTACTS_PER_HOUR", default=60, minimum=2)
SUSPICIOUS_WEBHOOK_AUTH_FAILURES = env.int("SUSPICIOUS_WEBHOOK_AUTH_FAILURES", default=20, minimum=1)
SUSPICIOUS_FAILED_SENDS = env.int("SUSPICIOUS_FAILED_SENDS", default=10, minimum=1)
SUSPICIOUS_SPEND_FACTOR = env.float("SUSPICIOUS_SPEND_FACTOR", default=3.0, positive=True)
SUSPICIOUS_SPEND_MIN_USD = env.float("SUSPICIOUS_SPEND_MIN_USD", default=5.0)

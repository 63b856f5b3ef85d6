"""Settings shared by every environment. The environment is read only in config/env.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import environ

from config.env import BASE_DIR, read
from productgraph.redis_urls import broker_url
from productgraph.tenancy.roles import resolve_urls, with_credentials

ENV = read()

SECRET_KEY = ENV.secret_key or "dev-insecure-key-change-me-in-production"
DEBUG = ENV.debug
ALLOWED_HOSTS = ENV.allowed_hosts
PRODUCTGRAPH_DATA_DIR = ENV.data_dir
PORT = ENV.port

# --- Databases -----------------------------------------------------------------------------
# Unset DATABASE_URL / REDIS_URL: the embedded servers under .data/ (operations.md).
if ENV.database_url:
    _database_url = ENV.database_url
else:
    from productgraph.embedded import ensure_postgres

    _embedded_admin = ensure_postgres(ENV.data_dir)
    _database_url = with_credentials(
        _embedded_admin, user="postgres", password="", database="productgraph"
    )
DATABASE_URLS = resolve_urls(
    database_url=_database_url,
    owner_url=ENV.database_owner_url,
    admin_url=ENV.database_admin_url,
    secret_key=SECRET_KEY,
)


def _database(url: str, *, conn_max_age: int) -> dict:
    config = environ.Env.db_url_config(url)
    config["ENGINE"] = "django.db.backends.postgresql"
    # A unix-socket URL (`?host=/path`) names its directory as an option.
    if not config.get("HOST") and "host" in config.get("OPTIONS", {}):
        config["HOST"] = config["OPTIONS"].pop("host")
    config["CONN_MAX_AGE"] = conn_max_age
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config


DATABASES = {
    # The runtime role: RLS applies to everything it does (tenancy.md, invariant 2).
    "default": _database(DATABASE_URLS.runtime, conn_max_age=ENV.conn_max_age),
    # The owner role: migrations only (`setup_database`).
    "owner": _database(DATABASE_URLS.owner, conn_max_age=0),
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if ENV.redis_url:
    REDIS_URL = ENV.redis_url
else:
    from productgraph.embedded import ensure_redis

    REDIS_URL = ensure_redis(ENV.data_dir)

# --- Applications --------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "django_guid",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "graphene_django",
    "axes",
    "productgraph",
    "orgs",
    "ingestion",
    "sessions.apps.SessionsConfig",
    "journeys",
    "analytics",
]

MIDDLEWARE = [
    "productgraph.metrics.MetricsMiddleware",
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "ingestion.cors.ProjectCorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "productgraph.tenancy.middleware.TenancyMiddleware",
    "orgs.admin_org.AdminOrgMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Paths that answer without a database transaction (liveness, readiness, the API docs).
TENANCY_EXEMPT_PATHS = ["/health", "/ready", "/metrics", "/api/schema/", "/api/docs/"]

ROOT_URLCONF = "productgraph.urls"
# Errors answer in the JSON envelope, a CSRF failure too (productgraph/urls.py has the rest).
CSRF_FAILURE_VIEW = "productgraph.api.handlers.csrf_failure"
WSGI_APPLICATION = "productgraph.wsgi.application"
ASGI_APPLICATION = "productgraph.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "productgraph" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "orgs.admin_org.admin_org_context",
            ],
        },
    },
]

# django-axes first: it refuses a locked-out login before a password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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

STATIC_URL = "static/"

# Members log in at /login/ (staff may also use the admin's); GraphiQL is where they go.
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/graphql"
LOGOUT_REDIRECT_URL = "/login/"
STATIC_ROOT = ENV.data_dir / "static"

# --- Login throttling (django-axes; operations.md#login-lockout) -----------------------------
# Failures are counted per username (from any address) and per address (for any username),
# in the database (the axes_* tables, no org_id); a lock lasts until AXES_COOLOFF_TIME has
# passed without another failure. Unlock in the admin (Axes, Access attempts) or with
# `manage.py axes_reset`.
AXES_HANDLER = "productgraph.login_lockout.LoginFailureHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = 5  # per username
LOGIN_ADDRESS_FAILURE_LIMIT = 20  # per address (LoginFailureHandler)
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "productgraph.login_lockout.lockout_response"
# REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
AXES_CLIENT_IP_CALLABLE = "productgraph.login_lockout.client_address"
# Successful logins are not recorded (the table would grow without bound); failures are.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every manage.py run; lockouts still log (WARNING)

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orgs.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["productgraph.api.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "productgraph.api.exception_handler.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ProductGraph API",
    "DESCRIPTION": "Batch event ingestion and service health (api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    # Described by orgs.openapi: X-PG-API-Key or Authorization: Bearer.
    "AUTHENTICATION_WHITELIST": [
        "orgs.authentication.ApiKeyAuthentication",
        "orgs.authentication.IngestKeyAuthentication",
    ],
}

# --- GraphQL (graphene-django) ----------------------------------------------------------------
# /graphql is routed in productgraph/urls.py with its own view (productgraph.graphql.view).
GRAPHENE = {
    "SCHEMA": "graphql_api.schema.schema",
    # `manage.py graphql_schema` rewrites the committed SDL; a test fails when it drifts.
    "SCHEMA_OUTPUT": "graphql_api/schema.graphql",
    "MIDDLEWARE": [],  # never graphene's debug middleware, even with DEBUG on
    "ATOMIC_MUTATIONS": False,  # the tenancy middleware's request transaction is enough
}

# CORS on the ingestion doors only (api.md): /v1/events, OTLP's /v1/logs and /v1/traces (the
# OpenTelemetry JS exporters run in browsers) and the Segment spec's calls, analytics.js'
# one-letter paths (/v1/t, /v1/p, /v1/i, /v1/a, /v1/g, /v1/b) included.
# ingestion.cors applies each project's origin list. Credentials are allowed because no
# door authenticates by cookie.
CORS_URLS_REGEX = (
    r"^/v1/(events|logs|traces|batch|track|page|screen|identify|alias|group|[tpiagb])/?$"
)
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = True
CORS_ALLOW_METHODS = ["POST", "OPTIONS"]
CORS_ALLOW_HEADERS = ["Content-Type", "Content-Encoding", "X-PG-API-Key", "Authorization"]
CORS_PREFLIGHT_MAX_AGE = 86400
# A browser SDK must read when to retry (429, 503) and the id to quote in a support request;
# neither header is CORS-safelisted.
CORS_EXPOSE_HEADERS = ["Retry-After", "X-Request-ID"]

# --- Celery --------------------------------------------------------------------------------
CELERY_BROKER_URL = broker_url(REDIS_URL)
# Every task has a time limit (operations.md#task-time-limits): at the soft one the task gets
# SoftTimeLimitExceeded and cleans up (a fold puts its marks back), at the hard one its
# process is killed. Tasks that need another limit set their own; every hard limit stays
# below the broker's 900 s visibility timeout (productgraph/celery.py).
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# Every Redis key ProductGraph writes starts with this (productgraph.keyspace).
REDIS_KEY_PREFIX = "pg:"

# One beat process schedules upkeep; per-org work is fanned out, one task per organization.
CELERY_BEAT_SCHEDULE = {
    "sessions-sweep": {
        "task": "orgs.fan_out",
        "schedule": 60.0,
        "args": ["sessions.sweep_org"],
    },
    "sessions-close-idle": {
        "task": "orgs.fan_out",
        "schedule": 60.0,
        "args": ["sessions.close_idle_org"],
    },
    "journeys-refresh": {
        "task": "orgs.fan_out",
        "schedule": 300.0,
        "args": ["journeys.refresh_org"],
    },
    # Next months' event partitions exist well before their first event.
    "ingestion-ensure-partitions": {"task": "ingestion.ensure_partitions", "schedule": 6 * 3600.0},
}

# --- Metrics (operations.md#metrics) ---------------------------------------------------------
# GET /metrics: with a token, only `Authorization: Bearer <token>`; without, loopback only.
METRICS_TOKEN = ENV.metrics_token
# Set: sum the samples every process wrote there (gunicorn workers); unset: this process's.
PROMETHEUS_MULTIPROC_DIR = ENV.prometheus_multiproc_dir
# Which analytics store answers funnels and event counts (analytics/stores/): `postgres`.
ANALYTICS_STORE = ENV.analytics_store

# --- Logging -------------------------------------------------------------------------------
# Every request gets an id (the client's X-Request-ID if it sent one), returned in the
# X-Request-ID header and attached to each log line as `request_id`.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "RETURN_HEADER": True,
    # CORS_EXPOSE_HEADERS exposes it with Retry-After; django-guid would overwrite that list.
    "EXPOSE_HEADER": False,
    "VALIDATE_GUID": False,
    "IGNORE_URLS": ["health"],
}
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_guid.log_filters.CorrelationId"},
        # ?api_key= in a django.request record's request (api.md, "Keys without headers").
        "redact_keys": {"()": "productgraph.log_redaction.RedactKeys"},
    },
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(correlation_id)s %(message)s",
            "rename_fields": {"correlation_id": "request_id", "levelname": "level"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if ENV.log_format == "json" else "text",
            "filters": ["request_id", "redact_keys"],
        }
    },
    "root": {"handlers": ["console"], "level": ENV.log_level},
    "loggers": {
        "pgserver": {"level": "WARNING"},
        "django_guid": {"level": "WARNING"},
        # Every failed login at INFO is noise; a lockout is logged at WARNING.
        "axes": {"level": "WARNING"},
        # tenancy.md: every admin org switch is logged, whatever LOG_LEVEL says.
        "productgraph.audit": {"level": "INFO"},
    },
}

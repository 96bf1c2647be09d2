"""One settings module, configured from environment variables (twelve-factor).

With no ``DATABASE_URL``/``REDIS_URL`` the project runs on embedded defaults: a SQLite file,
the in-process cache and eager Celery, so ``make run`` works on a bare machine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _origin(url: str) -> str:
    """``https://js.stripe.com/v3/`` -> ``https://js.stripe.com`` (for CSP source lists)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Debug only: a fresh key per run; share links made in one run stop opening in the next.
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "https://api.stripe.com").rstrip("/")
# Where the browser loads Stripe.js from; the local emulator serves a stand-in at /v3/stripe.js.
STRIPE_JS_URL = os.environ.get("STRIPE_JS_URL", "https://js.stripe.com/v3/")
EMAIL_URL = os.environ.get("EMAIL_URL", "console:")
# Where browsers open the comment stream (server-sent events, served by the ASGI process).
# Empty: the page's own origin, where a proxy routes /invoice/*/comments/stream to that process.
COMMENTS_STREAM_BASE_URL = os.environ.get("COMMENTS_STREAM_BASE_URL", "").rstrip("/")

INSTALLED_APPS = [
    # django.contrib.admin, with the staff sign-in site (rate limits, TOTP) as admin.site.
    "backoffice.admin_config.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    # The API docs page (/api/v1/docs) then serves Swagger UI from our static files, not a CDN
    # the CSP forbids and the product may not reach.
    "ninja",
    "invoices",
    "invoices.webhooks",
    "invoices.customer_sessions",
    "portal",
    "portal.embed",
    "portal.comments",
    "portal.documents",
    "portal.billing",
    "payments",
    "tracking",
    "preferences",
    "api",
    "backoffice",
]

MIDDLEWARE = [
    # First: which site the host names (ours, a company's own domain, or 400) before anything
    # else reads it.
    "portal.site.middleware.HostRoutingMiddleware",
    # Pages and JSON gzipped on the way out, after every other layer (BREACH: core.compression).
    "core.compression.TextCompressionMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files served by the app itself (compressed, hashed names, a year's cache): the same
    # behind any proxy, under granian and under runserver with DEBUG=0 (WhiteNoise).
    "core.staticfiles.StaticFilesMiddleware",
    # One validation layer: NUL bytes, lone surrogates, numbers beyond 64 bits answer 400.
    "core.validation.InputValidationMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "portal.middleware.CustomerFacingHeadersMiddleware",
    # Last: on a company's domain, the paths that are not there (admin, API...) answer 404.
    "portal.site.middleware.CompanyDomainPathsMiddleware",
]

ROOT_URLCONF = "portal_project.urls"
WSGI_APPLICATION = "portal_project.wsgi.application"
ASGI_APPLICATION = "portal_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                # {% csrf_token %} without Django's 64 calls for random characters.
                "core.csrf.csrf",
            ],
            # {% load i18n %}: Django's tags, with a faster {% translate %} of fixed messages.
            "libraries": {"i18n": "core.i18n_tags"},
        },
    },
    {
        # The customer pages' most rendered parts (jinja_templates/, portal.jinja), rendered with
        # render_to_string(..., using="jinja2").
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "jinja_templates"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "portal.jinja.environment"},
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
# PostgreSQL connections come from a pool per process (Django's native psycopg pool), shared by
# the process's threads: a page takes a connection for its request and gives it back at the
# end, instead of each of granian's threads holding one of its own (CONN_MAX_AGE) whether it
# serves pages or not. Sizes per process: DB_POOL_MAX at least granian's --blocking-threads
# per worker (8 in docker-compose.yml), so a page never waits for a connection; DB_POOL_MIN
# kept open while idle. Processes x DB_POOL_MAX must stay under PostgreSQL's max_connections.
# The pool is created on a process's first query, so after granian's or Celery's fork, never
# inherited. Celery's prefork workers connect without it (portal_project.celery: Celery
# closes connections around every task, which would make a pool per task). DB_POOL=0 turns it
# off everywhere (then CONN_MAX_AGE keeps each thread's connection). The ASGI process's comment
# streams run their short reads on one shared sync thread (portal.comments.asgi): it holds at
# most one pooled connection, given back whenever a stream's response ends. Only on
# PostgreSQL (SQLite has no pool); Django refuses a pool with CONN_MAX_AGE other than 0.
# The pool checks a connection before handing it out (core.pool_checks, through the backend
# core.postgresql: a round trip only when its socket shows it was dropped, or after it sat
# idle), so requests after a database restart get a fresh one, as the persistent connections'
# check (CONN_HEALTH_CHECKS) did.
DB_POOL = env_bool("DB_POOL", True)
DB_POOL_MIN = int(os.environ.get("DB_POOL_MIN", "2"))
DB_POOL_MAX = int(os.environ.get("DB_POOL_MAX", "10"))
# Seconds a request waits for a connection before it fails. With DB_POOL_MAX >= threads a
# connection is always free, so this is how long a page waits while PostgreSQL is unreachable
# (the pool keeps trying until then), and the room the pool has after a database restart to
# find its connections broken (it checks each, backing off 1 s, 2 s… between failures) and
# open new ones: long enough for that, short enough that an outage answers errors quickly.
DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", "5"))
# The token lookups of the customer pages run as prepared statements, planned once per
# connection. Off (DB_PREPARED_STATEMENTS=0) behind a pooler that hands each transaction a
# different server connection (PgBouncer in transaction mode), where they would not be found.
DB_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)


def _database(url: str) -> dict[str, Any]:
    database: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    )
    if DB_POOL and database["ENGINE"] == "django.db.backends.postgresql":
        database["CONN_MAX_AGE"] = 0
        # Django's backend, with a pool that checks connections without a round trip each time.
        database["ENGINE"] = "core.postgresql"
        database["OPTIONS"] = {**database.get("OPTIONS", {})}
        database["OPTIONS"]["pool"] = {
            "min_size": min(DB_POOL_MIN, DB_POOL_MAX),
            "max_size": DB_POOL_MAX,
            "timeout": DB_POOL_TIMEOUT,
            # Idle connections above min_size close after 5 minutes; every connection is
            # replaced after an hour (memory held by long-lived PostgreSQL backends).
            "max_idle": 300,
            "max_lifetime": 3600,
            "name": "default",
        }
    if database["ENGINE"].endswith("postgresql") and DB_PREPARED_STATEMENTS:
        # Lets the hottest lookups prepare their statements (invoices.rows.prepared_cursor asks
        # for it explicitly); Django's own cursors bind on the client and never prepare.
        database["OPTIONS"] = {**database.get("OPTIONS", {}), "prepare_threshold": 5}
    return database


DATABASES = {
    "default": _database(DATABASE_URL)
    if DATABASE_URL
    else {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        # The demo's webhooks, success page and server threads write at once: take the write
        # lock at BEGIN and wait for it, instead of failing with "database is locked".
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis broker in production; eager, in-process execution when there is no Redis.
# How much lower than the web server's a Celery worker's CPU priority is (Unix nice, 0 to 19;
# portal_project.celery): pages first when both want the cores.
WORKER_NICENESS = int(os.environ.get("WORKER_NICENESS", "5"))
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
# Queueing must never hold a web request: with Redis down, a publish gives up after about a
# second (one quick retry), and the row it was about stays for the periodic pick-up
# (webhook events, emails). Tasks queued from requests ignore their result, so no request
# waits on the result backend either.
CELERY_BROKER_CONNECTION_TIMEOUT = 1.0
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A message a worker took but never acknowledged (the worker was killed: acks_late below)
    # goes back on the queue this long after it was taken, and the next worker to start or
    # sweep runs it. Longer than any countdown of a retry (Redis counts those as taken too).
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1
CELERY_REDIS_SOCKET_TIMEOUT = 2
CELERY_TASK_ACKS_LATE = True
# A pool process killed mid-task (OOM, SIGKILL): its message goes back on the queue at once
# instead of being acknowledged as failed. Every task is safe to run again: each claims its
# row with a row lock, or is idempotent.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# WeasyPrint grows memory slowly across renders: recycle worker processes.
CELERY_WORKER_MAX_TASKS_PER_CHILD = 200
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Hourly, so each company's "today" (its own time zone) is seen soon after it starts;
    # preferences.models.ReminderSent keeps every reminder step to one email per invoice.
    "preferences-send-reminders": {
        "task": "preferences.tasks.send_reminders",
        "schedule": 3600.0,
    },
    # Emails whose Celery message was lost (broker down at commit) are handed over again.
    "preferences-requeue-stale-emails": {
        "task": "preferences.tasks.requeue_stale_emails",
        "schedule": 60.0,
    },
    # Stripe events stored but never processed (worker down, crash): picked up again.
    "payments-retry-webhook-events": {
        "task": "payments.tasks.webhook_events_retry_task",
        "schedule": 60.0,
    },
    # Invoices of companies that bill in Stripe: what a lost webhook left out (Stripe keeps
    # its events 30 days; each pass reads those raised since the last).
    "payments-stripe-reconcile": {
        "task": "payments.tasks.stripe_reconcile_task",
        "schedule": 600.0,
    },
    # Overpayment surpluses whose refund task was lost (broker down at commit).
    "payments-retry-surplus-refunds": {
        "task": "payments.tasks.payment_surpluses_retry_task",
        "schedule": 60.0,
    },
    # Webhook retries that are due (and deliveries whose Celery message was lost).
    "webhooks-deliver-due": {
        "task": "invoices.webhooks.tasks.deliver_due_task",
        "schedule": 60.0,
    },
    # Buffered page views: the flush is queued when the buffer fills; this is the safety net
    # for a lost message, and takes over a dead flusher's batch (after
    # TRACKING_FLUSH_RECLAIM_AFTER).
    "tracking-flush-views": {
        "task": "tracking.tasks.views_flush_task",
        "schedule": 10.0,
    },
    # Idempotency-Keys are kept for 24 hours.
    "api-purge-idempotency-keys": {
        "task": "api.tasks.idempotency_keys_purge_task",
        "schedule": 3600.0,
    },
}

# View tracking: opens of invoice pages are buffered in Redis and written to PostgreSQL in
# batches by Celery (tracking.services). Off, or without Redis and PostgreSQL, each open is
# written in its request. A batch a flusher read and did not acknowledge for this many seconds
# (it died) is taken over by the next flush: longer than a flush ever takes.
TRACKING_BUFFERED = env_bool("TRACKING_BUFFERED", True)
TRACKING_FLUSH_RECLAIM_AFTER = float(os.environ.get("TRACKING_FLUSH_RECLAIM_AFTER", "60"))

# Authenticator apps list staff accounts under this name (django-otp's otpauth:// URL).
OTP_TOTP_ISSUER = "Invoice Portal"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("de", _("German")), ("fr", _("French")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Hashed, compressed static files (collectstatic's): production, and `make run`, which collects
# them first (scripts/run-local.sh sets HASHED_STATIC=1 with DEBUG on) to serve what production
# serves. Off in DEBUG otherwise, so a changed stylesheet shows without collecting again.
HASHED_STATIC = env_bool("HASHED_STATIC", not DEBUG)
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    # Any Django storage backend (e.g. django-storages' S3 backend, configured by its own
    # settings) can hold logos and rendered PDFs; local files by default.
    "default": {
        "BACKEND": os.environ.get("STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": "core.staticfiles.HashedStaticFilesStorage"
        if HASHED_STATIC
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Files not (yet) collected are served from the apps' folders; collected ones with hashed
# names, compressed, with a year's cache.
WHITENOISE_USE_FINDERS = True
# Files browsers ask for at the site's root whatever the page says (favicon.ico), served by
# WhiteNoise under their own names.
WHITENOISE_ROOT = BASE_DIR / "public"

# Email: EMAIL_URL picks the backend (console:, file:///dir, smtp://host:port).
if EMAIL_URL.startswith("smtp://") or EMAIL_URL.startswith("smtps://"):
    from urllib.parse import unquote, urlsplit

    _email = urlsplit(EMAIL_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "127.0.0.1"
    EMAIL_PORT = _email.port or 25
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    # smtp://host:587?starttls=1 for relays that upgrade the connection with STARTTLS.
    EMAIL_USE_TLS = not EMAIL_USE_SSL and "starttls=1" in _email.query.split("&")
    EMAIL_TIMEOUT = 10
elif EMAIL_URL.startswith("file://"):
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = EMAIL_URL.removeprefix("file://")
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Invoice Portal <billing@localhost>")

# Security. Customer-facing pages add their own headers in portal.middleware.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# Customer pages send "no-referrer" (portal.middleware). Elsewhere (the admin) "same-origin":
# under "no-referrer" browsers post forms with "Origin: null", which Django's CSRF check rejects,
# so staff could not even log in.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = False
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL] if PUBLIC_BASE_URL.startswith("https://") else []
SILENCED_SYSTEM_CHECKS = [
    # SECURE_HSTS_PRELOAD: a choice, preloading is for the operator to opt into.
    "security.W021",
    # "i18n" names our library (core.i18n_tags: Django's tags, a faster translate) on purpose.
    "templates.W003",
]

# Content-Security-Policy (django-csp 4): no inline script; scripts carry a per-request nonce.
# Payments: Stripe.js comes from STRIPE_JS_URL's origin (script, its frames, its API calls);
# the pay form's 303 goes to Stripe Checkout (form-action covers redirects after a submit).
_STRIPE_JS_ORIGIN = _origin(STRIPE_JS_URL)
_STRIPE_API_ORIGIN = _origin(STRIPE_API_BASE)
_STRIPE_CHECKOUT_ORIGIN = (
    "https://checkout.stripe.com"
    if _STRIPE_API_ORIGIN == "https://api.stripe.com"
    else _STRIPE_API_ORIGIN
)
# Real Stripe.js also loads from its subdomains and shows 3-D Secure in a hooks.stripe.com
# frame (Stripe's documented CSP); the local stand-in needs only its own origin.
_STRIPE_JS_EXTRA = (
    ["https://*.js.stripe.com", "https://hooks.stripe.com"]
    if _STRIPE_JS_ORIGIN == "https://js.stripe.com"
    else []
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, _STRIPE_JS_ORIGIN, *_STRIPE_JS_EXTRA],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [
            SELF,
            _STRIPE_API_ORIGIN,
            _STRIPE_JS_ORIGIN,
            *([_origin(COMMENTS_STREAM_BASE_URL)] if COMMENTS_STREAM_BASE_URL else []),
        ],
        "frame-src": [SELF, _STRIPE_JS_ORIGIN, *_STRIPE_JS_EXTRA],
        "frame-ancestors": [NONE],
        "form-action": [SELF, _STRIPE_CHECKOUT_ORIGIN],
        "base-uri": [NONE],
        "object-src": [NONE],
    }
}

# django-ratelimit stores its counters in the default cache (Redis in production).
# Outgoing webhooks may go to loopback and private addresses, over http too (tests, local
# development only: in production this would let API keys probe the internal network).
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", False)

RATELIMIT_USE_CACHE = "default"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
# When the rate-limit store (Redis) is down, requests are allowed (fail open) and logged:
# availability of customer pages beats strict limiting during a cache outage.
RATELIMIT_FAIL_OPEN = True

LOGIN_URL = "/admin/login/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint logs each of its seven rendering steps at INFO, for every PDF.
        "weasyprint.progress": {"level": "WARNING"},
    },
}

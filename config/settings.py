"""Settings, all from environment variables (and an optional .env file beside manage.py).

The defaults are the embedded setup: SQLite in WAL mode and kombu's filesystem broker, both
under DATA_DIR, so `make run` needs no server. Point DATABASE_URL, REDIS_URL and
CELERY_BROKER_URL at PostgreSQL and Redis for anything real.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for a development-only default).")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",  # operator tokens (manage.py create_operator_token)
    "drf_spectacular",
    "django_celery_beat",
    "django_celery_results",
    "django_vite",
    "django_htmx",
    "axes",
    "customers",
    "segments",
    "campaigns",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RejectNulMiddleware",  # before anything looks the address up
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "customers.operators.OperatorLanguageMiddleware",  # the operator's stored language
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it answers a locked-out login
]

# Logins: django-axes locks an account (per username and address) out after
# AXES_FAILURE_LIMIT failures for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.int("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False  # no banner on every command and worker start

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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "customers.context_processors.operator_role",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the worker writes; IMMEDIATE avoids lock upgrades.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Orders' covering index includes columns only PostgreSQL can; SQLite gets a plain index.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # A "SELECT 1" round trip before the first query of every request, so that a connection
    # the server dropped is replaced instead of failing that request. 0 saves that round trip
    # on every API call (bench/coupons.py --no-health-checks).
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# Hot-path lookups (storefront keys, coupons) as named prepared statements (customers/sql.py);
# 0 behind a transaction-pooling proxy that cannot keep them.
DB_PREPARED_STATEMENTS = env.bool("DB_PREPARED_STATEMENTS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (rate limits, locks) -------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": REDIS_URL, "KEY_PREFIX": "retentio"}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery ---------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes every database connection around every task unless told to reuse it: each
# runner or dispatcher batch then paid for a new PostgreSQL session (a backend started, its
# catalog caches filled again). It closes them every this many tasks instead; between, the
# connection follows Django's rules (config/celery.py).
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = env("TIME_ZONE", default="UTC")

# --- Segments -------------------------------------------------------------------------------
# Segments a full evaluation of all of them works on at once, each on a connection of its own
# (PostgreSQL only): one evaluation leaves a core idle half the time.
SEGMENTS_EVALUATION_CONCURRENCY = env.int("SEGMENTS_EVALUATION_CONCURRENCY", default=2)

# --- Campaigns ------------------------------------------------------------------------------
# Batch chains the runner and the dispatcher keep going at once: one per worker process.
CAMPAIGNS_CONCURRENCY = env.int("CAMPAIGNS_CONCURRENCY", default=2)
# Where links in messages point (unsubscribe): the public address of this web process.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# --- Messages (docs/messages.md) ------------------------------------------------------------
# Campaign email goes through Django's email backends: the file outbox by default (nothing
# leaves the machine); django.core.mail.backends.smtp.EmailBackend with the EMAIL_* settings
# below, or a django-anymail backend (e.g. anymail.backends.mailgun.EmailBackend) with its
# keys in ANYMAIL (JSON).
CAMPAIGNS_EMAIL_BACKEND = env(
    "CAMPAIGNS_EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(DATA_DIR / "outbox" / "email"))
CAMPAIGNS_EMAIL_FROM = env("CAMPAIGNS_EMAIL_FROM", default="Retentio <noreply@localhost>")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
ANYMAIL = env.json("ANYMAIL", default={})
# SMS through django-sms backends: the file outbox by default; sms.backends.twilio.SmsBackend
# (with TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, and the twilio package) or your own.
SMS_BACKEND = env("SMS_BACKEND", default="sms.backends.filebased.SmsBackend")
SMS_FILE_PATH = env("SMS_FILE_PATH", default=str(DATA_DIR / "outbox" / "sms"))
DEFAULT_FROM_SMS = env("DEFAULT_FROM_SMS", default="Retentio")
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN", default="")
# Webhooks: seconds to wait for an answer; failed calls are retried with exponential backoff
# (CAMPAIGNS_RETRY_SECONDS, doubling) until CAMPAIGNS_MAX_ATTEMPTS, then recorded as failed.
CAMPAIGNS_WEBHOOK_TIMEOUT = env.float("CAMPAIGNS_WEBHOOK_TIMEOUT", default=5.0)
CAMPAIGNS_MAX_ATTEMPTS = env.int("CAMPAIGNS_MAX_ATTEMPTS", default=5)
CAMPAIGNS_RETRY_SECONDS = env.int("CAMPAIGNS_RETRY_SECONDS", default=60)
# Coupon validate/redeem answers for unknown codes allowed per storefront key and window
# (seconds); past it, both calls answer 429 until the window ends (docs/coupons.md).
COUPON_GUESS_LIMIT = env.int("COUPON_GUESS_LIMIT", default=20)
COUPON_GUESS_WINDOW = env.int("COUPON_GUESS_WINDOW", default=600)

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Russian: Django's own strings only (dates, forms, admin); ours stay in English there.
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese")), ("ru", _("Russian"))]
# The currency money is shown in on operator pages; empty: the first storefront's.
SHOP_CURRENCY = env("SHOP_CURRENCY", default="")
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Front end (the islands, built by Vite into static/dist/: `npm run build`) ----------------
DJANGO_VITE = {"default": {
    "dev_mode": env.bool("VITE_DEV_MODE", default=False),  # True: served by `npx vite`
    "static_url_prefix": "dist",
    "manifest_path": BASE_DIR / "static" / "dist" / "manifest.json",
}}

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
                    if not DEBUG else "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- API ------------------------------------------------------------------------------------
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="3000/min")
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "customers.api.errors.api_exception_handler",
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.api.auth.StorefrontKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["customers.api.auth.IsStorefront"],
    "DEFAULT_THROTTLE_CLASSES": ["customers.api.throttling.StorefrontKeyThrottle"],
    # JSON read by jiter, bounded, without NUL (customers.api.parsers)
    "DEFAULT_PARSER_CLASSES": ["customers.api.parsers.JSONParser",
                               "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Retentio API",
    "DESCRIPTION": (
        "Storefront API: push customers, orders and behaviour events; validate and redeem "
        "coupon codes; read a customer's offers (coupons and inbox messages). Authenticate with "
        "`Authorization: Bearer <storefront key>` (`python manage.py create_storefront NAME`). "
        "Batch endpoints take up to 1,000 items and are all-or-nothing: one bad item rejects "
        "the whole batch with a 400 naming each bad item's index and field.\n\n"
        "Operator API (segments, campaigns and their canvas, coupon definitions, message "
        "templates, webhook endpoints, results and dry runs): a staff user's session, or "
        "`Authorization: Token <operator token>` (`python manage.py create_operator_token "
        "USERNAME`); storefront keys are refused there."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`; each gets its own named enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "customers.models.OrderStatus.values",
        "CampaignStatusEnum": "campaigns.models.Campaign.Status",
        "JourneyStatusEnum": "campaigns.models.Journey.Status",
        "CouponStatusEnum": "campaigns.models.Coupon.Status",
        "DeliveryStatusEnum": "campaigns.models.Delivery.Status",
        "MessageChannelEnum": "campaigns.models.Channel",
        "CouponKindEnum": "campaigns.models.CouponDefinition.Kind",
    },
}

# --- Production hardening (passes `manage.py check --deploy` when DEBUG is off) --------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

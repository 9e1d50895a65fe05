"""Django settings, read from the environment (see the table in README.md and .env.example)."""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from clinic.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production (DEBUG off) refuses to start without it; "
            "for development set DEBUG=true (make run does) to use a throwaway key."
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Where clients reach the site; links in emails start with it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "clinic",
    "clients",
    "treatments",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "clinic.middleware.ClinicTimezoneMiddleware",
    "clinic.middleware.IdleSignOutMiddleware",
    "clinic.middleware.TwoStepRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

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
                "clinic.context_processors.current_clinic",
            ],
        },
    },
]

# Database: SQLite under var/ by default, anything dj-database-url understands otherwise.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'clinic.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, for the test database too: Celery workers and the live server open it
    # from other processes. IMMEDIATE transactions serialise writers instead of failing them late.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-clinic.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server, so psycopg prepares the statements a process repeats (a
    # booking's checks, the outbox's claim and record): about 15% less time per booking. Turn off
    # behind a pooler in transaction mode (pgbouncer), where prepared statements do not survive.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env_bool(
        "DB_SERVER_SIDE_BINDING", True
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's password sign-in, paused for an account after a few wrong passwords (clinic.sign_in).
AUTHENTICATION_BACKENDS = ["clinic.sign_in.LockingModelBackend"]
LOGIN_URL = "login"
# A sign-in lasts a working day: a desk computer left signed in overnight is not (hours; SESSION_HOURS).
SESSION_COOKIE_AGE = env_int("SESSION_HOURS", 12) * 3600
LOGIN_REDIRECT_URL = "home"
# How often an open day's list asks whether its visits changed (a client checked in, a booking online).
DAY_REFRESH_SECONDS = env_int("DAY_REFRESH_SECONDS", 30)
# A link to a new password, emailed to someone who forgot theirs, works once and for an hour.
PASSWORD_RESET_TIMEOUT = 3600
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
# Stored times are UTC; each clinic renders in its own IANA zone (Clinic.time_zone).
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"
# Hashed, compressed files from `collectstatic` in production images; served straight from the
# source folders (whitenoise finders) in development and tests, where nothing was collected.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Redis, when given, is the Celery broker and the cache; otherwise nothing needs a server.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 3600}
    if REDIS_URL
    else {"data_folder_in": str(BROKER_DIR), "data_folder_out": str(BROKER_DIR), "store_processed": False}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
# How often beat hands due outbox rows to workers; one minute in production, shorter in tests.
OUTBOX_TICK_SECONDS = env_int("OUTBOX_TICK_SECONDS", 60)
# A transient SMTP failure is retried after this many seconds, doubling each time (8 attempts).
OUTBOX_FIRST_RETRY_SECONDS = env_int("OUTBOX_FIRST_RETRY_SECONDS", 60)
# A message claimed longer ago than this belongs to a worker that died and is handed out again.
OUTBOX_STALE_CLAIM_SECONDS = env_int("OUTBOX_STALE_CLAIM_SECONDS", 600)
# A file of visits asked to be booked this long ago and not booked lost its worker: beat, looking this
# often, hands it to another (a file of 3,000 takes about two minutes: docs/benchmarks.md).
VISIT_IMPORT_STALE_SECONDS = env_int("VISIT_IMPORT_STALE_SECONDS", 600)
VISIT_IMPORT_TICK_SECONDS = env_int("VISIT_IMPORT_TICK_SECONDS", 300)
CELERY_BEAT_SCHEDULE = {
    "deliver-due-messages": {
        "task": "clinic.tasks.deliver_due_messages_task",
        "schedule": float(OUTBOX_TICK_SECONDS),
    },
    # written once a month at most (its dedupe key names the month): every few hours is often enough
    "remind-records-past-keeping": {
        "task": "treatments.tasks.remind_records_past_keeping_task",
        "schedule": 6 * 3600.0,
    },
    # files of clients left unimported, and the rows an import left out, forgotten after a while
    "forget-old-client-imports": {
        "task": "clients.tasks.forget_old_client_imports_task",
        "schedule": 6 * 3600.0,
    },
    # files of visits asked to be booked whose worker died (or whose broker was down)
    "book-unfinished-visit-imports": {
        "task": "treatments.tasks.book_unfinished_visit_imports_task",
        "schedule": float(VISIT_IMPORT_TICK_SECONDS),
    },
}

# Email: SMTP when EMAIL_HOST is set, otherwise one .eml file per message under var/mail/.
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Clinic <no-reply@clinic.localhost>")
MAIL_DIR = VAR_DIR / "mail"
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "clinic.mail.MailDirBackend"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "clinic.authentication.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["clinic.permissions.IsClinicStaff"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "clinic.pagination.ClinicPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "clinic.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic API",
    "DESCRIPTION": "Clients, services, practitioners and bookings of one clinic.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A service's device kind and its second device kind are one set of choices, named once.
    "ENUM_NAME_OVERRIDES": {
        "DeviceKindEnum": "clinic.models.DeviceKind.choices",
        # named by string: the settings import no app's models
        "PaymentMethodEnum": "treatments.models.PaymentMethod.choices",
        "MoneyPaymentMethodEnum": "treatments.models.MONEY_PAYMENT_METHODS",
    },
    # The 400, 403, 404 and 415 answers the views cannot declare one by one (clinic/api_schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "clinic.api_schema.document_error_responses",
    ],
}

# Production hardening: on unless DEBUG; each can be turned off behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if not DEBUG and SECRET_KEY.startswith("dev-only"):
    raise ImproperlyConfigured("The development SECRET_KEY cannot be used with DEBUG off.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

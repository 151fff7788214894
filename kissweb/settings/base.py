"""Settings shared by every configuration. Everything a deployment changes comes from the environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kissweb.settings.env import env_bool, env_int, env_list, env_str
from kissweb.settings.secret import secret_key

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(env_str("KISSWEB_DATA_DIR", str(BASE_DIR / "data"))).resolve()
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STATIC_ROOT = Path(env_str("KISSWEB_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]

SECRET_KEY = secret_key(data_dir=DATA_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "kissweb.jobs",
    "kissweb.library",
    "kissweb.analysis",
    "kissweb.web",
    "kissweb.training",
    "kissweb.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "kissweb.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "kissweb.middleware.RejectNullBytesMiddleware",
    "kissweb.middleware.RejectChunkedBodyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out found during the view into the 429
]

# Only this origin's scripts, styles, media and connections; no inline script or style, no plugins, no framing.
KISSWEB_CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "media-src 'self' blob:", "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'",
])
# The player needs fullscreen and picture-in-picture for itself; nothing here needs sensors, camera or payments.
KISSWEB_PERMISSIONS_POLICY = ", ".join([
    "accelerometer=()", "camera=()", "display-capture=()", "geolocation=()", "gyroscope=()", "magnetometer=()",
    "microphone=()", "midi=()", "payment=()", "usb=()", "fullscreen=(self)", "picture-in-picture=(self)",
    "autoplay=(self)",
])

ROOT_URLCONF = "kissweb.urls"
WSGI_APPLICATION = "kissweb.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kissweb.permissions.policy",
            ],
        },
    },
]

# Postgres only. `./kiss` resolves DATABASE_URL (configured, local server, or embedded) before Django starts.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kissweb"),
        conn_max_age=env_int("KISSWEB_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Kissweb runs on PostgreSQL only; DATABASE_URL must start with postgres://.")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["kissweb.login_guard.LoginGuardBackend", "django.contrib.auth.backends.ModelBackend"]
# Brute-force protection (kissweb/login_guard.py): failures counted in the database per account and per address.
AXES_FAILURE_LIMIT = env_int("KISSWEB_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("KISSWEB_LOGIN_COOLOFF_S", 15 * 60))
# Locked out: one account from one address, or one address whatever the account. An account alone is never locked (anyone
# could lock anyone out); past KISSWEB_LOGIN_SLOWDOWN_AFTER failures from anywhere its logins are spaced out instead.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # a refused attempt neither counts nor starts the wait again
KISSWEB_LOGIN_SLOWDOWN_AFTER = env_int("KISSWEB_LOGIN_SLOWDOWN_AFTER", 2 * AXES_FAILURE_LIMIT)
KISSWEB_LOGIN_SLOWDOWN_MAX_S = env_int("KISSWEB_LOGIN_SLOWDOWN_MAX_S", 60)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_CALLABLE = "kissweb.login_guard.lockout_response"
AXES_CLIENT_IP_CALLABLE = "kissweb.login_guard.client_ip"
AXES_VERBOSE = False
# How many proxies that append to X-Forwarded-For stand in front of gunicorn (nginx in docker-compose: 1).
KISSWEB_PROXY_COUNT = env_int("KISSWEB_PROXY_COUNT", 0)
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Uploads: stream to disk in chunks, never whole in memory.
KISSWEB_MAX_UPLOAD_BYTES = env_int("KISSWEB_MAX_UPLOAD_BYTES", 20 * 1024**3)
# What a film may claim (kissweb/library/media_limits.py): its picture size, and bytes per second of its duration
# (a tiny file whose timestamps claim hours would cost hours of analysis).
KISSWEB_MAX_VIDEO_PIXELS = env_int("KISSWEB_MAX_VIDEO_PIXELS", 3840 * 2160)
KISSWEB_MIN_BYTES_PER_SECOND = env_int("KISSWEB_MIN_BYTES_PER_SECOND", 256)
# Labelled spans (annotations, reviews included) one movie may hold, all people and scene types together.
KISSWEB_MAX_ANNOTATIONS_PER_MOVIE = env_int("KISSWEB_MAX_ANNOTATIONS_PER_MOVIE", 2000)
# Add from URL: hosts or CIDRs inside the network that may be fetched from (private addresses are refused otherwise).
KISSWEB_URL_ALLOWED_HOSTS = env_list("KISSWEB_URL_ALLOWED_HOSTS", [])
KISSWEB_URL_TIMEOUT_S = env_int("KISSWEB_URL_TIMEOUT_S", 30)
# A download ends at this deadline, or when it averages fewer bytes per second over any KISSWEB_URL_TIMEOUT_S.
KISSWEB_URL_DEADLINE_S = env_int("KISSWEB_URL_DEADLINE_S", 3 * 3600)
KISSWEB_URL_MIN_RATE_BPS = env_int("KISSWEB_URL_MIN_RATE_BPS", 64 * 1024)
# Exports: how long a finished export is kept, how long and how tall one may be, how many scenes a supercut of a
# scene search takes, and how many exports one person may have queued or running at once.
KISSWEB_EXPORT_TTL_S = env_int("KISSWEB_EXPORT_TTL_S", 24 * 3600)
KISSWEB_EXPORT_MAX_SCENES = env_int("KISSWEB_EXPORT_MAX_SCENES", 50)
KISSWEB_EXPORT_MAX_MINUTES = env_int("KISSWEB_EXPORT_MAX_MINUTES", 30)
KISSWEB_EXPORT_MAX_HEIGHT = env_int("KISSWEB_EXPORT_MAX_HEIGHT", 720)
KISSWEB_EXPORT_MAX_ACTIVE = env_int("KISSWEB_EXPORT_MAX_ACTIVE", 5)
KISSWEB_EXPORT_X264_PRESET = env_str("KISSWEB_EXPORT_X264_PRESET", "veryfast")
FILE_UPLOAD_MAX_MEMORY_SIZE = 0
# On the media volume, so that accepting an upload is a rename, not a copy.
FILE_UPLOAD_TEMP_DIR = str(MEDIA_ROOT / "incoming")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Behind nginx, the stream view hands the bytes to nginx with X-Accel-Redirect under this internal prefix.
KISSWEB_ACCEL_REDIRECT_PREFIX = env_str("KISSWEB_ACCEL_REDIRECT_PREFIX", "") or None
KISSWEB_WEIGHTS_DIR = env_str("KISSWEB_WEIGHTS_DIR", str(Path.home() / ".cache" / "kissweb"))
# Where "Get the published kissing model" downloads model.pkl from (unset: the published project's own link).
KISSWEB_PUBLISHED_MODEL_URL = env_str("KISSWEB_PUBLISHED_MODEL_URL", "") or None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kissweb.library.authentication.SessionOrTokenAuthentication",
        "kissweb.library.authentication.OneQueryTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kissweb.permissions.SignedIn"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser", "rest_framework.parsers.FormParser", "kissweb.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "kissweb.pagination.PagesFromOne",
    "PAGE_SIZE": 24,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "kissweb.schema.AutoSchema",
    "EXCEPTION_HANDLER": "kissweb.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kissweb API",
    "DESCRIPTION": "Find scenes (kissing first) in a movie library, second by second.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from this server's static files (the CSP allows no other origin).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # 3.1: its schemas are JSON Schema 2020-12, so tests validate real responses with jsonschema itself.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "kissweb.schema.postprocess_nullable"],
}

# django-q2: the ORM broker on one machine, Redis when REDIS_URL is set.
REDIS_URL = env_str("REDIS_URL", "") or None
# One django-q2 queue per kind of work, each with its own worker processes, so that one kind never waits behind
# another: a Runner names its queue (kissweb.jobs.runner.Runner.queue). "work" is the default queue (analyses,
# training, ...); "downloads" holds add-from-URL downloads; "housekeeping" only the sweeper (lost runs, expiry).
# A worker serves one queue: `KISSWEB_WORKER_QUEUE=downloads python manage.py qcluster` (unset: "work").
# "nice": the worker's CPU niceness (higher yields the CPU to the other queues' workers on the same machine).
KISSWEB_QUEUE_NAME = env_str("KISSWEB_QUEUE_NAME", "kissweb")
KISSWEB_QUEUES: dict[str, dict] = {
    "work": {"workers": env_int("KISSWEB_WORKERS", 1), "nice": 0},
    "downloads": {"workers": env_int("KISSWEB_DOWNLOAD_WORKERS", 1), "nice": 0},
    # Exports (and playable copies) below analyses: their own worker, and a niceness that yields the CPU to them.
    "exports": {"workers": env_int("KISSWEB_EXPORT_WORKERS", 1), "nice": env_int("KISSWEB_EXPORT_NICE", 10)},
    "housekeeping": {"workers": 1, "nice": 0},
}
KISSWEB_WORKER_QUEUE = env_str("KISSWEB_WORKER_QUEUE", "work")
if KISSWEB_WORKER_QUEUE not in KISSWEB_QUEUES:
    raise ImproperlyConfigured(
        f"KISSWEB_WORKER_QUEUE={KISSWEB_WORKER_QUEUE!r} is not a queue; choose one of {', '.join(KISSWEB_QUEUES)}."
    )

Q_CLUSTER: dict = {
    # The queue's name (Redis keys, ORM queue rows): workers on one broker with the same name share the work. It is
    # also the key tasks are signed with, the same for every queue.
    "name": KISSWEB_QUEUE_NAME,
    # The queue this process's worker serves (django-q2 reads tasks from the list of this name).
    # (the naming rule is kissweb.jobs.queues.cluster_of's).
    "cluster_name": KISSWEB_QUEUE_NAME if KISSWEB_WORKER_QUEUE == "work" else f"{KISSWEB_QUEUE_NAME}-{KISSWEB_WORKER_QUEUE}",
    "workers": KISSWEB_QUEUES[KISSWEB_WORKER_QUEUE]["workers"],
    "recycle": 50,
    "timeout": env_int("KISSWEB_TASK_TIMEOUT_S", 6 * 3600),
    "retry": env_int("KISSWEB_TASK_RETRY_S", 6 * 3600 + 600),
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "poll": 1,
}
# The brokers are django-q2's, saying in the log what becomes of a task a worker cannot read (kissweb/jobs/brokers.py).
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
    Q_CLUSTER["broker_class"] = "kissweb.jobs.brokers.RedisBroker"
else:
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["broker_class"] = "kissweb.jobs.brokers.OrmBroker"
# A cache every process shares: django-q2 keeps its worker statistics there (the health endpoint reads them).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "kissweb_cache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("KISSWEB_LOG_LEVEL", "INFO")},
}

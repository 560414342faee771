"""Settings for the incident-response portal, read from the environment.

Every variable is documented in `.env.example`. With no configuration at all the
portal runs in development mode on SQLite and Celery's filesystem broker under
`var/`; production sets DEBUG=false and must point DATABASE_URL, CELERY_BROKER_URL
and EMAIL_URL at PostgreSQL, Redis and an SMTP server (start-up stops otherwise).
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)


def _dev_secret_key() -> str:
    """A per-checkout key for development, kept out of the repository."""
    VAR_DIR.mkdir(exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random string of at least 50 characters when DEBUG is false."
        )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list the portal's host names when DEBUG is false.")
    # The embedded defaults (SQLite, the filesystem broker, console mail) are for a laptop: in production
    # they would lose data or emails without a word, so start-up stops instead.
    for _name, _example, _fallback in (
        ("DATABASE_URL", "postgres://user:pass@host:5432/portal", "an SQLite file"),
        ("CELERY_BROKER_URL", "redis://host:6379/0", "the filesystem broker"),
        ("EMAIL_URL", "smtp+tls://user:pass@host:587", "printing emails to the console"),
    ):
        if not env.str(_name, default=""):
            raise ImproperlyConfigured(
                f"{_name} must be set when DEBUG is false (e.g. {_example}); "
                f"production does not fall back to {_fallback}."
            )

SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "rest_framework",
    "drf_spectacular",
    "simple_history",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "portal",
    "audit",
    "people",
    "notifications",
    "incidents",
    "alerts",
    "statuspage",
    "approvals",
    "ledger",
    "regulatory",
    "postmortems",
    "insights",
    "search",
    "health",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Above WhiteNoise, so static files carry the policies too.
    "csp.middleware.CSPMiddleware",
    "portal.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below WhiteNoise: static files are not the portal's latency.
    "health.middleware.RequestLatencyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "people.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "portal.middleware.SessionIdleTimeoutMiddleware",
    # After the idle timeout (an expired session signs in again first): staff verify a second factor.
    "people.middleware.SecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "audit.middleware.AuditReasonMiddleware",
    # Last, as django-axes requires: it turns a locked-out sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

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
                "health.context_processors.health_banner",
            ],
        },
    },
    {
        # Email subjects and text bodies are plain text: nothing in them is HTML-escaped
        # (the HTML parts are rendered by the engine above, which escapes).
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {"autoescape": False},
    },
]

VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# In production a connection serves many requests (opening one costs about as much as
# a trivial page); health checks replace one the database has dropped.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0 if DEBUG else 60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

# Django's cache: the API's per-token rate limits and the health banner's 30-second memo.
# In-process memory by default (so each gunicorn worker counts on its own); set CACHE_URL
# (redis://host:6379/2) to share it between processes.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web, worker and beat processes share the file.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"


def _at_least_one(name: str, default: int) -> int:
    value = env.int(name, default=default)
    if value < 1:
        raise ImproperlyConfigured(f"{name} must be at least 1.")
    return value


# Sign-in throttling (django-axes), for the portal's and the admin's login alike. Failures count per
# (address, username) and per address, never per username alone: an attacker cannot lock an account
# out from everywhere, and the on-call can always sign in from another address. A lockout answers
# 429, ends after the cool-off, and an admin clears it early by deleting its access attempts.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "portal.middleware.SignInThrottleHandler"
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"], "ip_address"]
AXES_FAILURE_LIMIT = _at_least_one("AXES_FAILURE_LIMIT", 10)
# Higher than the per-account limit: many staff may share one office or VPN address.
AXES_IP_FAILURE_LIMIT = _at_least_one("AXES_IP_FAILURE_LIMIT", 50)
AXES_COOLOFF_TIME = timedelta(minutes=_at_least_one("AXES_COOLOFF_MINUTES", 15))
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
# The lockout's JSON answer (to X-Requested-With requests) is for the portal's own pages, not any origin.
AXES_ALLOWED_CORS_ORIGINS = SITE_URL
AXES_CLIENT_IP_CALLABLE = "portal.middleware.client_ip"
AXES_USERNAME_CALLABLE = "portal.middleware.sign_in_username"
# Reverse proxies in front of gunicorn that append to X-Forwarded-For. Production assumes one (as
# SECURE_PROXY_SSL_HEADER does): without it every client would share the proxy's address and its limit.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0 if DEBUG else 1)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT cannot be negative.")

# Second factor (django-otp; people.middleware.SecondFactorMiddleware): staff, superusers and Admins verify a
# TOTP code or a one-time recovery code after signing in, before any page. On by default in production; off
# by default in development, so the login `make run` prints works without an authenticator app. Anyone who
# has set up a second factor is asked for it either way.
OTP_REQUIRED_FOR_STAFF = env.bool("OTP_REQUIRED_FOR_STAFF", default=not DEBUG)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Incident portal")
# The admin's device pages never show a secret key or its QR code.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# The groups the identity provider may put people in (incidents.seeding's names; settings import no app).
SSO_PORTAL_GROUPS = ("Responders", "Viewers", "Admins")


def _group_map(value: str) -> dict[str, list[str]]:
    """`idp-oncall=Responders,idp-admins=Admins,idp-admins=Responders` -> {provider group: [portal groups]}."""
    mapping: dict[str, list[str]] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        provider_group, sep, portal_group = (part.strip() for part in item.rpartition("="))
        if not sep or not provider_group or portal_group not in SSO_PORTAL_GROUPS:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_MAP entry {item!r} is not provider-group=portal-group "
                f"(portal groups: {', '.join(SSO_PORTAL_GROUPS)})."
            )
        mapping.setdefault(provider_group, []).append(portal_group)
    return mapping


# Single sign-on with OpenID Connect (people.backends.SSOBackend, mozilla-django-oidc). Off unless
# OIDC_RP_CLIENT_ID is set; then the sign-in page also offers "Sign in with <OIDC_PROVIDER_NAME>" and the
# password form stays for local (break-glass) accounts. Endpoints are configured one by one (no discovery).
OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")  # optional: claims the ID token lacks
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")  # optional: ID tokens of any other issuer are refused
OIDC_RP_SIGN_ALGO = env.str("OIDC_RP_SIGN_ALGO", default="RS256")
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_USERNAME_CLAIM = env.str("OIDC_USERNAME_CLAIM", default="preferred_username")
OIDC_GROUPS_CLAIM = env.str("OIDC_GROUPS_CLAIM", default="groups")
OIDC_GROUP_MAP = _group_map(env.str("OIDC_GROUP_MAP", default=""))
OIDC_DENIED_MESSAGE = env.str(
    "OIDC_DENIED_MESSAGE",
    default="Your account is not in any group that may use this portal. Ask your administrator for access.",
)
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)
if OIDC_ENABLED:
    _oidc_required = ["OIDC_RP_CLIENT_SECRET", "OIDC_OP_AUTHORIZATION_ENDPOINT", "OIDC_OP_TOKEN_ENDPOINT"]
    if OIDC_RP_SIGN_ALGO.startswith(("RS", "ES")):
        _oidc_required.append("OIDC_OP_JWKS_ENDPOINT")
    for _name in _oidc_required:
        if not vars()[_name]:
            raise ImproperlyConfigured(f"{_name} must be set when OIDC_RP_CLIENT_ID is (single sign-on is on).")
    if not OIDC_GROUP_MAP:
        raise ImproperlyConfigured("OIDC_GROUP_MAP must map at least one provider group when single sign-on is on.")
    for _name in (
        "OIDC_OP_AUTHORIZATION_ENDPOINT",
        "OIDC_OP_TOKEN_ENDPOINT",
        "OIDC_OP_JWKS_ENDPOINT",
        "OIDC_OP_USER_ENDPOINT",
    ):
        if not DEBUG and vars()[_name] and not vars()[_name].startswith("https://"):
            raise ImproperlyConfigured(f"{_name} must be an https:// address when DEBUG is false.")
    AUTHENTICATION_BACKENDS = [*AUTHENTICATION_BACKENDS, "people.backends.SSOBackend"]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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

# Email. EMAIL_URL carries backend, host, port and credentials in one value.
# Production must set it (checked at the top); development prints emails on the console.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Incident portal <incidents@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Security. Production values switch on with DEBUG=false.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Everything the portal and the admin load is its own (no CDN, no inline script or style). The data:
# image source is only for base.html's empty favicon; images cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Browser features the portal never uses, switched off for its pages and anything they might embed.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
}
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Celery. The embedded default keeps messages in files under var/broker, so a
# newcomer needs no server; production points CELERY_BROKER_URL at Redis.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
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
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Bounded so that a publish against a dead broker fails fast instead of
        # hanging a web request; the work is in the database and a sweep re-sends it.
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "socket_connect_timeout": 2,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
if CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport with the fix that lets a worker outlive a Redis restart (see the class).
    CELERY_BROKER_TRANSPORT = "portal.celery:RedisTransport"
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker or beat that loses the broker reconnects for as long as it takes. Celery's default gives up
# after 100 attempts (about 47 minutes) and the process exits ("Unrecoverable error: OperationalError").
# Publishing from a web request is bounded by the publish retry policy below, not by this.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Tasks running when the broker connection drops finish their work (Celery 6 would cancel them): a
# delivery cut off inside its SMTP exchange is the one way a message goes out twice.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# How often beat runs the periodic sweeps; a minute in production, seconds in fault tests.
OUTBOX_SWEEP_SECONDS = env.float("OUTBOX_SWEEP_SECONDS", default=60)
POSTMORTEM_SWEEP_SECONDS = env.float("POSTMORTEM_SWEEP_SECONDS", default=60)
STALL_SWEEP_SECONDS = env.float("STALL_SWEEP_SECONDS", default=60)
CELERY_BEAT_SCHEDULE = {
    "deliver-outbox": {
        "task": "notifications.tasks.outbox_sweep",
        "schedule": timedelta(seconds=OUTBOX_SWEEP_SECONDS),
    },
    "enforce-postmortem-deadlines": {
        "task": "postmortems.tasks.enforce_deadlines",
        "schedule": timedelta(seconds=POSTMORTEM_SWEEP_SECONDS),
    },
    "remind-overdue-updates": {
        "task": "incidents.tasks.remind_overdue_updates",
        "schedule": timedelta(minutes=1),
    },
    "escalate-unacknowledged": {
        "task": "incidents.tasks.escalate_unacknowledged",
        "schedule": timedelta(minutes=1),
    },
    "chase-stalled-incidents": {
        "task": "incidents.tasks.chase_stalled_incidents",
        "schedule": timedelta(seconds=STALL_SWEEP_SECONDS),
    },
    "status-page-broadcasts": {
        "task": "statuspage.tasks.broadcast_sweep",
        "schedule": timedelta(minutes=1),
    },
    "record-audit-checkpoint": {
        "task": "audit.tasks.record_checkpoint",
        "schedule": timedelta(days=1),
    },
}

# The JSON API (/api/v1/, api/): personal tokens only, no session or basic auth,
# so a browser's cookies never authorise an API write. Rates per token (api.throttles).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.PersonalTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.TokenScopePermission"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttles.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": env.str("API_RATE", default="600/min")},
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Incident portal API",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# History: the system actor that task and command writes are recorded under.
PORTAL_SYSTEM_USERNAME = "system"
# The key of the audit chain's hashes (audit.chain, manage.py verify_audit). Empty: derived from SECRET_KEY;
# a key of its own lets SECRET_KEY be rotated without making the chain's existing hashes unverifiable.
AUDIT_CHAIN_KEY = env.str("AUDIT_CHAIN_KEY", default="")
if AUDIT_CHAIN_KEY and len(AUDIT_CHAIN_KEY) < 32:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must be at least 32 characters (or empty: derived from SECRET_KEY).")

# Failed deliveries are retried with backoff this many times before the
# message is marked failed and shown to staff (it is never deleted).
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=12)
# A message still "being sent" this long after its attempt began lost its worker mid-send: send it again.
OUTBOX_SENDING_LEASE = timedelta(seconds=env.int("OUTBOX_SENDING_LEASE_SECONDS", default=600))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Slack incoming webhook for #incidents; notifications to Slack are off when unset.
SLACK_WEBHOOK_URL = env.str("SLACK_WEBHOOK_URL", default="")
SLACK_TIMEOUT = env.int("SLACK_TIMEOUT", default=5)

# Paging gateway (an SMS/voice service's HTTP webhook) for escalations by phone; paging is off when unset.
PAGING_WEBHOOK_URL = env.str("PAGING_WEBHOOK_URL", default="")
PAGING_TOKEN = env.str("PAGING_TOKEN", default="")
PAGING_TIMEOUT = env.int("PAGING_TIMEOUT", default=10)
if PAGING_WEBHOOK_URL and not PAGING_WEBHOOK_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("PAGING_WEBHOOK_URL must be an http(s) URL (or empty to disable paging).")
if PAGING_WEBHOOK_URL and not PAGING_TOKEN:
    raise ImproperlyConfigured("PAGING_TOKEN must be set when PAGING_WEBHOOK_URL is.")

# The conference bridge every new incident starts with (editable per incident). Empty: none.
CONFERENCE_BRIDGE_URL = env.str("CONFERENCE_BRIDGE_URL", default="")
if CONFERENCE_BRIDGE_URL and not CONFERENCE_BRIDGE_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured("CONFERENCE_BRIDGE_URL must be an http(s) URL (or empty).")

# Alertmanager webhook (POST /api/alerts/alertmanager/). Empty: the endpoint refuses every request.
ALERTMANAGER_WEBHOOK_TOKEN = env.str("ALERTMANAGER_WEBHOOK_TOKEN", default="")
if ALERTMANAGER_WEBHOOK_TOKEN and len(ALERTMANAGER_WEBHOOK_TOKEN) < 24:
    raise ImproperlyConfigured("ALERTMANAGER_WEBHOOK_TOKEN must be at least 24 characters (or empty to disable).")
ALERTMANAGER_MAX_BODY_BYTES = env.int("ALERTMANAGER_MAX_BODY_BYTES", default=1024 * 1024)


def _severity_map(value: str) -> dict[str, int]:
    """`critical:1,high:2` -> {"critical": 1, "high": 2}; malformed entries fail loudly."""
    mapping = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        label, sep, level = item.partition(":")
        if not sep or not label.strip() or not level.strip().isdigit():
            raise ImproperlyConfigured(f"ALERT_SEVERITY_MAP entry {item!r} is not label:level.")
        mapping[label.strip().lower()] = int(level)
    return mapping


# The Prometheus `severity` label -> severity level of an incident an alert opens.
ALERT_SEVERITY_MAP = _severity_map(
    env.str("ALERT_SEVERITY_MAP", default="critical:1,page:1,high:2,error:2,warning:3,info:4")
)
ALERT_DEFAULT_SEVERITY = env.int("ALERT_DEFAULT_SEVERITY", default=3)
# The alert label naming the incident type (an IncidentType slug); unknown or missing -> "other".
ALERT_TYPE_LABEL = env.str("ALERT_TYPE_LABEL", default="incident_type")

# Distribution lists emailed when an incident is declared, changes severity or is resolved, per severity.
INCIDENT_EMAIL_LISTS = {level: env.list(f"NOTIFY_EMAILS_SEV{level}", default=[]) for level in (1, 2, 3, 4)}
# Stakeholder lists emailed each stakeholder status update, per severity.
STAKEHOLDER_EMAIL_LISTS = {level: env.list(f"STAKEHOLDER_EMAILS_SEV{level}", default=[]) for level in (1, 2, 3, 4)}

# Public status page: how far back its history and feed go.
STATUS_PAGE_HISTORY_DAYS = env.int("STATUS_PAGE_HISTORY_DAYS", default=90)
STATUS_PAGE_TITLE = env.str("STATUS_PAGE_TITLE", default="Service status")
# Subscribers queued per transaction when a customer update is sent out.
STATUS_BROADCAST_BATCH = env.int("STATUS_BROADCAST_BATCH", default=200)
# How long a subscription confirmation link stays valid.
STATUS_CONFIRM_MAX_AGE = timedelta(days=env.int("STATUS_CONFIRM_MAX_AGE_DAYS", default=7))


def _duration(name: str, default: str) -> timedelta:
    """A duration such as `90m`, `24h`, `7d` (s, m, h, d, w); malformed values fail loudly."""
    raw = env.str(name, default=default).strip().lower()
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    try:
        value = float(raw[:-1])
        unit = units[raw[-1]]
    except (KeyError, ValueError, IndexError):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a duration like 30m, 24h or 7d.") from None
    if value < 0:
        raise ImproperlyConfigured(f"{name} cannot be negative.")
    return timedelta(**{unit: value})


# Post-mortems: the runbook's milestones, counted from the incident's resolution.
POSTMORTEM_MEETING_WITHIN = _duration("POSTMORTEM_MEETING_WITHIN", "24h")
POSTMORTEM_ANALYSIS_WITHIN = _duration("POSTMORTEM_ANALYSIS_WITHIN", "7d")
POSTMORTEM_PREVENTIVE_WITHIN = _duration("POSTMORTEM_PREVENTIVE_WITHIN", "30d")
# Reminders go to the owner this long before each deadline.
POSTMORTEM_MEETING_REMINDER_LEAD = _duration("POSTMORTEM_MEETING_REMINDER_LEAD", "4h")
POSTMORTEM_ANALYSIS_REMINDER_LEAD = _duration("POSTMORTEM_ANALYSIS_REMINDER_LEAD", "1d")
POSTMORTEM_PREVENTIVE_REMINDER_LEAD = _duration("POSTMORTEM_PREVENTIVE_REMINDER_LEAD", "3d")
POSTMORTEM_ACTION_ITEM_REMINDER_LEAD = _duration("POSTMORTEM_ACTION_ITEM_REMINDER_LEAD", "1d")
# After a deadline has passed by this much, the Incident Commander and Technical Lead are told.
POSTMORTEM_ESCALATION_GRACE = _duration("POSTMORTEM_ESCALATION_GRACE", "1d")
# Severity levels whose escalations also go to the active emergency contacts that have an email.
POSTMORTEM_ESCALATE_TO_EMERGENCY_CONTACTS = env.list("POSTMORTEM_ESCALATE_TO_EMERGENCY_CONTACTS", cast=int, default=[1])
# Reminders claimed per transaction by one sweep.
POSTMORTEM_SWEEP_BATCH = env.int("POSTMORTEM_SWEEP_BATCH", default=100)
# Stalled incidents chased per transaction by one sweep (incidents.stalls).
STALL_SWEEP_BATCH = env.int("STALL_SWEEP_BATCH", default=200)

# Regulatory reporting: files sent to regulators are kept under MEDIA_ROOT (never served directly:
# a signed-in page hands them out), each at most REGULATORY_MAX_FILE_SIZE bytes.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
REGULATORY_MAX_FILE_SIZE = env.int("REGULATORY_MAX_FILE_SIZE", default=10 * 1024 * 1024)
if not 0 < REGULATORY_MAX_FILE_SIZE <= 100 * 1024 * 1024:
    raise ImproperlyConfigured("REGULATORY_MAX_FILE_SIZE is a number of bytes, more than 0 and at most 100 MB.")

# Sessions. The absolute lifetime counts from sign-in and the idle timeout from the last request;
# portal.middleware.SessionIdleTimeoutMiddleware enforces both (the cookie's own expiry slides).
SESSION_COOKIE_AGE = int(_duration("SESSION_MAX_AGE", "14d").total_seconds())
# Default: a working shift, so the on-call is not signed out mid-incident.
SESSION_IDLE_TIMEOUT = _duration("SESSION_IDLE_TIMEOUT", "12h")
if not SESSION_IDLE_TIMEOUT or not SESSION_COOKIE_AGE:
    raise ImproperlyConfigured("SESSION_IDLE_TIMEOUT and SESSION_MAX_AGE must be longer than zero.")

# The portal's own health (the health app): /healthz, the banner on signed-in pages, and /metrics.
# Bearer token Prometheus presents to /metrics. Empty: /metrics answers 403 ("off").
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters (or empty to turn /metrics off).")
# prometheus-client's multiprocess mode, for gunicorn's several workers: a folder they share, emptied at each
# start. prometheus-client reads the variable itself, from the environment, when it is first imported.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if "PROMETHEUS_MULTIPROC_DIR" in env.ENVIRON and not Path(PROMETHEUS_MULTIPROC_DIR or "/nonexistent").is_dir():
    raise ImproperlyConfigured(
        f"PROMETHEUS_MULTIPROC_DIR={PROMETHEUS_MULTIPROC_DIR!r} is not an existing folder (unset it for one process)."
    )
# Seconds /healthz waits for the broker before it reports it down.
HEALTH_BROKER_TIMEOUT = env.float("HEALTH_BROKER_TIMEOUT_SECONDS", default=2)
if not 0 < HEALTH_BROKER_TIMEOUT <= 10:
    raise ImproperlyConfigured("HEALTH_BROKER_TIMEOUT_SECONDS must be more than 0 and at most 10.")
# Seconds each process keeps the banner's findings (two indexed queries) in Django's cache; 0: every page asks.
HEALTH_BANNER_CACHE_SECONDS = env.int("HEALTH_BANNER_CACHE_SECONDS", default=30)
if HEALTH_BANNER_CACHE_SECONDS < 0:
    raise ImproperlyConfigured("HEALTH_BANNER_CACHE_SECONDS cannot be negative.")

"""Settings read from the environment, with the checks production insists on."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production")


class ConfigError(RuntimeError):
    """Raised when the settings are unsafe or inconsistent; the message says what to set."""


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "si", "sì"}


def _int(name: str, *, default: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ConfigError(f"{name}={value!r} non è valido: indica un numero intero, ad esempio 1.")
    return int(value)


def _secret_key(instance_path: Path) -> str:
    """Return SECRET_KEY, generating one in the instance folder on first run."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def _database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        instance_path.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{instance_path / 'lgnetforma.sqlite'}"
    # Heroku-style URLs and plain "postgresql://" both mean psycopg 3 here.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _trusted_hosts(base_url: str, extra: str) -> list[str]:
    """The hosts a request may name: PUBLIC_BASE_URL's, plus a comma-separated extra list."""
    hosts = [urlsplit(base_url).hostname or ""] if base_url else []
    hosts += [host.strip() for host in extra.split(",") if host.strip()]
    return [host for host in hosts if host]


def _mail_backend(production: bool) -> str:
    value = os.environ.get("MAIL_BACKEND", "").strip().lower()
    if not value:
        return "console" if not production and not os.environ.get("SMTP_HOST") else "smtp"
    if value not in {"smtp", "console"}:
        raise ConfigError(f"MAIL_BACKEND={value!r} non è valido: usa 'smtp' oppure 'console'.")
    return value


def load_config(instance_path: Path) -> dict[str, Any]:
    """Build the Flask configuration from environment variables."""
    env = os.environ.get("LGNETFORMA_ENV", "development").strip().lower()
    production = env == "production"
    smtp_port = os.environ.get("SMTP_PORT", "25")
    public_base_url = os.environ.get("PUBLIC_BASE_URL", "").strip().rstrip("/")
    return {
        "LGNETFORMA_ENV": env,
        "SECRET_KEY": _secret_key(instance_path),
        "SECRET_KEY_FROM_ENV": bool(os.environ.get("SECRET_KEY")),
        "DEBUG": _bool(os.environ.get("FLASK_DEBUG")),
        "SQLALCHEMY_DATABASE_URI": _database_url(instance_path),
        "ALLOW_SQLITE_IN_PRODUCTION": _bool(os.environ.get("LGNETFORMA_ALLOW_SQLITE")),
        "SMTP_HOST": os.environ.get("SMTP_HOST", "localhost"),
        "SMTP_PORT": int(smtp_port) if smtp_port.isdigit() else smtp_port,
        "SMTP_USER": os.environ.get("SMTP_USER", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_TLS": _bool(os.environ.get("SMTP_TLS")),
        "SMTP_SSL": _bool(os.environ.get("SMTP_SSL")),
        "SMTP_TIMEOUT": 10,
        "MAIL_SENDER": os.environ.get("MAIL_SENDER", "LGNetforma <noreply@lgnetforma.local>"),
        # "smtp", or "console": the worker prints each message instead of sending it. The
        # default is "console" in development when SMTP_HOST is not set, so a newcomer reads
        # the mail in the terminal of `make run` (and on /sviluppo/posta).
        "MAIL_BACKEND": _mail_backend(production),
        # The worker (`lgnetforma worker`): tries per message, back-off doubling from the
        # base up to the ceiling, pause between two looks at an empty outbox.
        "MAIL_MAX_ATTEMPTS": _int("MAIL_MAX_ATTEMPTS", default=20),
        "MAIL_RETRY_BASE_SECONDS": _int("MAIL_RETRY_BASE_SECONDS", default=10),
        "MAIL_RETRY_MAX_SECONDS": _int("MAIL_RETRY_MAX_SECONDS", default=3600),
        "WORKER_POLL_SECONDS": _int("WORKER_POLL_SECONDS", default=5),
        # Scheduled jobs of the worker (crontab syntax, Europe/Rome) and what they keep.
        "JOB_PURGE_CRON": os.environ.get("JOB_PURGE_CRON", "15 3 * * *"),
        "JOB_TALLIES_CRON": os.environ.get("JOB_TALLIES_CRON", "45 2 * * *"),
        "JOB_SESSION_REMINDERS_CRON": os.environ.get("JOB_SESSION_REMINDERS_CRON", "5 * * * *"),
        "AUDIT_RETENTION_DAYS": _int("AUDIT_RETENTION_DAYS", default=365),
        "MAIL_RETENTION_DAYS": _int("MAIL_RETENTION_DAYS", default=90),
        "REVOKED_TOKEN_RETENTION_DAYS": _int("REVOKED_TOKEN_RETENTION_DAYS", default=30),
        # Every absolute link (mail, QR code, API) starts here, never at the request's Host.
        "PUBLIC_BASE_URL": public_base_url,
        # In production a request naming another host gets 400 (Flask checks TRUSTED_HOSTS).
        "TRUSTED_HOSTS": (
            _trusted_hosts(public_base_url, os.environ.get("LGNETFORMA_TRUSTED_HOSTS", ""))
            if production
            else None
        ),
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "RATELIMIT_STORAGE_URI": os.environ.get("REDIS_URL") or "memory://",
        "RATELIMIT_ENABLED": _bool(os.environ.get("LGNETFORMA_RATELIMIT"), default=True),
        # A moving window: a burst at the end of one hour and the start of the next counts
        # as what it is. With Redis unreachable the limits go on per process, in memory.
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_KEY_PREFIX": "lgnetforma",
        "RATELIMIT_HEADERS_ENABLED": True,  # Retry-After on a 429
        # Budgets against guessing (see SECURITY.md, "Brute force"). Login and reset count
        # failures only; the strings are Flask-Limiter's ("20/minute;100/hour").
        "LOGIN_LIMIT_PER_IP": "20/minute",
        "LOGIN_LIMIT_PER_ACCOUNT_AND_IP": "10/15 minutes",
        "LOGIN_LIMIT_PER_ACCOUNT": "100/hour",
        "REGISTER_LIMIT_PER_IP": "20/hour",
        "RESET_LIMIT_PER_IP": "20/hour",
        "RESET_LIMIT_PER_EMAIL": "5/hour",
        "CONFIRM_RESEND_LIMIT_PER_IP": "20/hour",
        "CONFIRM_RESEND_LIMIT_PER_EMAIL": "3/hour",
        "API_AUTH_FAILURE_LIMIT_PER_IP": "20/minute",
        "API_LIMIT_PER_TOKEN": "300/minute",
        # How long a browser that logged in to an account is exempt from that account's
        # global ceiling (a signed cookie): an attack from elsewhere cannot lock it out.
        "KNOWN_DEVICE_MAX_AGE": 180 * 24 * 3600,
        # Behind a reverse proxy: how many proxies set X-Forwarded-For (and -Proto). Unset,
        # these headers are ignored and the client address is the connection's.
        "PROXY_FIX_X_FOR": _int("PROXY_FIX_X_FOR"),
        "PROXY_FIX_X_PROTO": _int("PROXY_FIX_X_PROTO"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        # Sessions end after 30 minutes without a request or 12 hours after login, and
        # "remember me" lasts 12 hours (OWASP ASVS 4.0 3.3.2, level 2).
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES") or 30,
        "SESSION_MAX_HOURS": _int("SESSION_MAX_HOURS") or 12,
        "REMEMBER_COOKIE_DURATION": timedelta(hours=_int("SESSION_MAX_HOURS") or 12),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "it",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Rome",
        "LANGUAGES": {"it": "Italiano", "en": "English"},
        "EMAIL_TOKEN_MAX_AGE": 48 * 3600,
        "RESET_TOKEN_MAX_AGE": 3600,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Responses compressed by Flask-Compress (see web/assets.py and README, "Light
        # pages"): Brotli where the browser takes it, else gzip; static files are streamed.
        "COMPRESS_ALGORITHM": ["br", "gzip"],
        "COMPRESS_ALGORITHM_STREAMING": ["br", "deflate"],
        "COMPRESS_BR_LEVEL": 5,
        # How long an app worker reuses the figures of the open cycle (0: never).
        "REPORT_CACHE_SECONDS": _int("REPORT_CACHE_SECONDS", default=60),
        # The hours of training each operator should do in a calendar year.
        "TRAINING_GOAL_HOURS": _int("TRAINING_GOAL_HOURS", default=40),
        # Connections each app worker keeps open to PostgreSQL, and how many more it may
        # open at a peak (SQLAlchemy's defaults). A sync gunicorn worker needs one at a time.
        "DATABASE_POOL_SIZE": _int("DATABASE_POOL_SIZE", default=5),
        "DATABASE_MAX_OVERFLOW": _int("DATABASE_MAX_OVERFLOW", default=10),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        **_identity_settings(),
    }


def _identity_settings() -> dict[str, Any]:
    """SPID/CIE, and the people and addresses the PA's notices name (see README)."""
    env = os.environ.get
    return {
        # SPID and CIE stay off until SPID_ENTITY_ID is set (or, in development only,
        # SPID_TEST_IDP=1, which `make run` sets) and the keys and IdP metadata exist.
        "SPID_ENTITY_ID": env("SPID_ENTITY_ID", "").strip(),
        "SPID_KEY_DIR": env("SPID_KEY_DIR", "").strip(),
        "SPID_IDP_METADATA_DIR": env("SPID_IDP_METADATA_DIR", "").strip(),
        "SPID_LEVEL": _int("SPID_LEVEL", default=2),
        "SPID_ORG_NAME": env("SPID_ORG_NAME", "").strip(),
        "SPID_ORG_DISPLAY_NAME": env("SPID_ORG_DISPLAY_NAME", "").strip(),
        "SPID_ORG_URL": env("SPID_ORG_URL", "").strip(),
        "SPID_IPA_CODE": env("SPID_IPA_CODE", "").strip(),
        "SPID_CONTACT_EMAIL": env("SPID_CONTACT_EMAIL", "").strip(),
        "SPID_CONTACT_PHONE": env("SPID_CONTACT_PHONE", "").strip(),
        # For the CIE metadata: the seat's cadastral code (e.g. H501) and province (RM).
        "SPID_MUNICIPALITY": env("SPID_MUNICIPALITY", "").strip(),
        "SPID_PROVINCE": env("SPID_PROVINCE", "").strip(),
        "CIE_IDP_ENTITY_ID": env(
            "CIE_IDP_ENTITY_ID",
            "https://idserver.servizicie.interno.gov.it/idp/profile/SAML2/POST/SSO",
        ).strip(),
        "SPID_TEST_IDP": _bool(env("SPID_TEST_IDP")),
        "SAML_REQUEST_MAX_AGE_SECONDS": _int("SAML_REQUEST_MAX_AGE_SECONDS", default=900),
        # Operators may then enter only with SPID/CIE; staff keep their passwords.
        "SPID_ONLY_FOR_OPERATORS": _bool(env("SPID_ONLY_FOR_OPERATORS")),
        "ACCESSIBILITY_DECLARATION_URL": env("ACCESSIBILITY_DECLARATION_URL", "").strip(),
        "ACCESSIBILITY_CONTACT_EMAIL": env("ACCESSIBILITY_CONTACT_EMAIL", "").strip(),
        "PRIVACY_CONTROLLER": env("PRIVACY_CONTROLLER", "").strip(),
        "PRIVACY_DPO_EMAIL": env("PRIVACY_DPO_EMAIL", "").strip(),
    }


def apply_database_options(config: dict[str, Any]) -> None:
    """Connection settings that depend on the database in use."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        # Calendar months counted in SQL are UTC's, as the tallies count them, whatever
        # time zone the server was installed with.
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("options", "-c timezone=UTC")
        options["connect_args"] = connect_args
        options.setdefault("pool_size", config.get("DATABASE_POOL_SIZE", 5))
        options.setdefault("max_overflow", config.get("DATABASE_MAX_OVERFLOW", 10))
    config["SQLALCHEMY_ENGINE_OPTIONS"] = options


def check_production(config: dict[str, Any]) -> None:
    """Refuse to start in production with settings that would be unsafe."""
    env = config.get("LGNETFORMA_ENV", "development")
    if env not in ENVIRONMENTS:
        raise ConfigError(
            f"LGNETFORMA_ENV={env!r} non è valido: usa 'development' oppure 'production'."
        )
    if env != "production":
        return
    problems = []
    if config.get("DEBUG"):
        problems.append("la modalità debug è attiva: togli FLASK_DEBUG o impostalo a 0")
    if not config.get("SECRET_KEY_FROM_ENV"):
        problems.append("manca una chiave segreta esplicita: imposta SECRET_KEY")
    base = urlsplit(str(config.get("PUBLIC_BASE_URL") or ""))
    if base.scheme not in ("http", "https") or not base.hostname:
        problems.append(
            "manca l'indirizzo pubblico della piattaforma, da cui partono tutti i link inviati "
            "per email: imposta PUBLIC_BASE_URL, ad esempio https://formazione.esempio.gov.it"
        )
    uri = str(config.get("SQLALCHEMY_DATABASE_URI", ""))
    if uri.startswith("sqlite") and not config.get("ALLOW_SQLITE_IN_PRODUCTION"):
        problems.append(
            "il database è SQLite: imposta DATABASE_URL verso PostgreSQL "
            "oppure LGNETFORMA_ALLOW_SQLITE=1 se è una scelta consapevole"
        )
    if config.get("MAIL_BACKEND") == "console":
        problems.append(
            "la posta verrebbe solo stampata (MAIL_BACKEND=console): imposta SMTP_HOST "
            "oppure MAIL_BACKEND=smtp"
        )
    if problems:
        raise ConfigError(
            "Configurazione non sicura per la produzione (LGNETFORMA_ENV=production): "
            + "; ".join(problems)
            + "."
        )

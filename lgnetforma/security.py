"""Sessions, login loading and HTTP security headers."""

from __future__ import annotations

import time

from flask import Flask, Response, abort, current_app, flash, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user

from lgnetforma.extensions import db, login_manager

# How often the time of the last request is written into the session cookie.
SEEN_RESOLUTION = 60
# Servers whose clocks differ by this much still accept each other's sessions.
CLOCK_SKEW = 300
# How long a client should wait before trying again after a 503 (seconds).
RETRY_AFTER_SECONDS = 30
# Pages whose address carries a personal token (reset, confirmation), signed in or not.
PERSONAL_TOKEN_PATHS = ("/password/nuova/", "/conferma/")

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


@login_manager.user_loader
def load_user(user_id: str):  # noqa: ANN201
    """The user of a session or remember-me cookie ("id:version:login time").

    Refused: an old session version (logout, password change, role change, deactivation
    since) and a login older than SESSION_MAX_HOURS, so neither a session cookie nor a
    remember-me cookie outlives it, even replayed by someone who stole it.
    """
    from lgnetforma.models import User

    parts = user_id.split(":")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return None
    account, version, logged_in_at = (int(part) for part in parts)
    age = time.time() - logged_in_at
    if not -CLOCK_SKEW <= age <= current_app.config["SESSION_MAX_HOURS"] * 3600:
        return None
    user = db.session.get(User, account)
    if user is None or user.session_version != version:
        return None
    return user


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if current_app.config.get("LGNETFORMA_ENV") == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if response.status_code == 503:
        # Every 503 (database down, no open cycle, /readyz) says when to come back.
        headers.setdefault("Retry-After", str(RETRY_AFTER_SECONDS))
    if _is_personal(response):
        # Personal pages never stay in a shared cache or the browser's history store.
        headers["Cache-Control"] = "private, no-store"
    return response


def _is_personal(response: Response) -> bool:
    """A page for one person: anything answered to a signed-in user, and the pages that
    carry a token in their address, unless the view chose its own caching (course media)."""
    if (
        request.endpoint in ("static", "public.health", "public.ready")
        or "Cache-Control" in response.headers
    ):
        return False
    if request.path.startswith(PERSONAL_TOKEN_PATHS + ("/api/",)):
        return True
    return bool(current_user and current_user.is_authenticated)


def _refuse_nul_bytes() -> None:
    """No text field ever needs NUL, and PostgreSQL cannot store it: refuse it at the door
    with 400 rather than fail later with 500 (a path with NUL names nothing: 404). The JSON
    API checks its own parameters and names the one at fault."""
    if "\x00" in request.path:
        abort(404)
    if request.path.startswith("/api/"):
        return
    for values in (request.args, request.form):
        for _name, items in values.lists():
            if any("\x00" in item for item in items):
                abort(400)


def _expire_idle_sessions() -> None:
    """Re-authentication after SESSION_IDLE_MINUTES without a request (OWASP ASVS 4.0
    3.3.2, level 2: 30 minutes; the 12 hours since login are checked by ``load_user``).

    The time of the last request lives in the signed session cookie, so a stolen cookie
    replayed later is as expired as the original. Logging out here also clears the
    remember-me cookie, so it cannot bring the expired session back.
    """
    if request.endpoint in ("static", "public.health") or request.path.startswith("/api/"):
        return
    if not current_user.is_authenticated:
        if "_seen" in session:
            del session["_seen"]
        return
    now = int(time.time())
    seen = session.get("_seen", now)
    if now - seen > current_app.config["SESSION_IDLE_MINUTES"] * 60:
        logout_user()
        kept = {key: session[key] for key in ("lang", "_remember") if key in session}
        session.clear()
        session.update(kept)
        flash(_l("La sessione è scaduta: accedi di nuovo."), "info")
        return
    if "_seen" not in session or now - seen >= SEEN_RESOLUTION:
        session["_seen"] = now  # not on every request: the cookie would change every time


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Accedi per vedere questa pagina.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_refuse_nul_bytes)
    app.before_request(_expire_idle_sessions)
    app.after_request(_security_headers)

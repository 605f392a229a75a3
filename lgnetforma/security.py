"""Sessions, login loading and HTTP security headers."""

from __future__ import annotations

from flask import Flask, Response, abort, request
from flask_babel import lazy_gettext as _l

from lgnetforma.extensions import db, login_manager

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
    """Load the user of a session; an id with an old session version is refused."""
    from lgnetforma.models import User

    user_part, _, version_part = user_id.partition(":")
    if not (user_part.isdigit() and version_part.isdigit()):
        return None
    user = db.session.get(User, int(user_part))
    if user is None or user.session_version != int(version_part):
        return None
    return user


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    from flask import current_app

    if current_app.config.get("LGNETFORMA_ENV") == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _refuse_nul_bytes() -> None:
    """No text field ever needs NUL, and PostgreSQL cannot store it: refuse it at the door
    with 400 rather than fail later with 500. (The JSON API checks its own parameters and
    names the one at fault.)"""
    if request.path.startswith("/api/"):
        return
    for values in (request.args, request.form):
        for _name, items in values.lists():
            if any("\x00" in item for item in items):
                abort(400)


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Accedi per vedere questa pagina.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    app.before_request(_refuse_nul_bytes)
    app.after_request(_security_headers)

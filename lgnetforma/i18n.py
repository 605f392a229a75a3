"""Language choice: Italian first, English on request."""

from __future__ import annotations

from flask import current_app, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the CLI: messages in the default language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def available_languages() -> dict[str, str]:
    return current_app.config["LANGUAGES"]


def current_language() -> str:
    return select_locale() if request else current_app.config["BABEL_DEFAULT_LOCALE"]

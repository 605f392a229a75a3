"""Language choice: Italian first, English on request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

from babel.support import Translations
from flask import Flask, current_app, g, has_request_context, session
from flask_babel import force_locale, get_translations
from flask_login import current_user

# The plan's wall clock: every time shown on screen or exported is in Rome's time, and
# says so (times are stored in UTC).
TIME_ZONE = ZoneInfo("Europe/Rome")


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


def install_template_gettext(app: Flask) -> None:
    """Templates call gettext dozens of times per page: find the request's catalogue once
    (Flask-Babel's own template callables look it up again on every call)."""

    def catalogue() -> Translations:
        found = g.get("_lgf_translations")
        if found is None:
            found = g._lgf_translations = get_translations()
        return found

    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalogue().ugettext(s),
        ngettext=lambda s, p, n: catalogue().ungettext(s, p, n),
        pgettext=lambda c, s: catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: catalogue().unpgettext(c, s, p, n),
        newstyle=True,
    )


@contextmanager
def in_language(locale: str) -> Iterator[None]:
    """Messages and templates in ``locale`` for a while (a mail to someone who reads
    another language than the person acting), then back to the request's."""
    saved = g.pop("_lgf_translations", None)
    try:
        with force_locale(locale):
            yield
    finally:
        g.pop("_lgf_translations", None)
        if saved is not None:
            g._lgf_translations = saved

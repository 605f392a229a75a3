"""Values every template may use."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, request
from flask_babel import format_date, format_datetime, get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from lgnetforma.i18n import available_languages

ROLE_LABELS = {
    "operator": _l("Operatore"),
    "trainer": _l("Formatore"),
    "coordinator": _l("Coordinatore"),
    "admin": _l("Amministratore"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def number(value: float | int | None) -> str:
    """A number the Italian way (1.234,5) in Italian, the English way in English."""
    if value is None:
        return "–"
    from flask_babel import format_decimal

    return format_decimal(value)


def percent(value: float | None) -> str:
    """A rate as a percentage, or a dash when there is nothing to divide."""
    if value is None:
        return "–"
    from flask_babel import format_percent

    return format_percent(value, format="#,##0.0%")


def _elides(number: int) -> bool:
    """Whether the Italian name of ``number`` starts with a vowel sound (uno, otto,
    undici, ottanta…, ottocento…), so that the article before it elides: "l'80%"."""
    if number in (1, 8, 11):
        return True
    text = str(number)
    return text.startswith("8") and len(text) in (2, 3)


def share(value: int) -> str:
    """A whole percentage with its article in Italian ("il 70%", "l'80%"); in other
    languages the bare percentage."""
    if str(get_locale() or "it").startswith("it"):
        return f"l'{value}%" if _elides(value) else f"il {value}%"
    return f"{value}%"


_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b")


def demote_headings(html: str, by: int = 2) -> Markup:
    """Already sanitised HTML with its headings ``by`` levels lower (at most h6), for
    content shown inside a section of a page (the editor's preview under its h2)."""
    demoted = _HEADING_TAG.sub(lambda m: f"<{m[1]}h{min(6, int(m[2]) + by)}", str(html))
    return Markup(demoted)  # noqa: S704 - only tag names change in sanitised markup


def init_app(app: Flask) -> None:
    @app.context_processor
    def inject() -> dict[str, Any]:
        return {
            "languages": available_languages(),
            "current_locale": str(get_locale() or "it"),
            "role_label": role_label,
            "current_path": request.full_path.rstrip("?") if request else "/",
            "nav_endpoints": app.view_functions,
        }

    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.filters["number"] = number
    app.jinja_env.filters["percent"] = percent
    app.jinja_env.filters["share"] = share
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.filters["demote_headings"] = demote_headings

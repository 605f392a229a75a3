"""The rule for text that names something (people, tokens): one line, no hidden characters.

C0/C1 controls (ESC, NUL, CR, LF…), bidirectional overrides and isolates (U+202A–U+202E,
U+2066–U+2069), zero-width characters and the Unicode line/paragraph separators can forge
lines in logs, disguise a name or break an export. Every entry point — web forms, bulk
enrolment, API tokens, the command line — refuses them through this module.
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l

from lgnetforma.services.platform.errors import ServiceError

PLAIN_TEXT_MESSAGE = _l("Usa solo testo su una riga, senza caratteri di controllo.")


def is_control(ch: str) -> bool:
    """Cc, Cf (bidi controls, zero-width), Cs, Co, Cn, and the line/paragraph separators."""
    category = unicodedata.category(ch)
    return category[0] == "C" or category in ("Zl", "Zp")


def has_control_characters(value: str) -> bool:
    return any(is_control(ch) for ch in value)


def plain_text(value: str | None, field: str) -> str:
    """``value`` stripped of surrounding spaces; ServiceError naming ``field`` if it hides
    control or formatting characters."""
    text = (value or "").strip()
    if has_control_characters(text):
        raise ServiceError(PLAIN_TEXT_MESSAGE, field)
    return text

"""Italian fiscal codes (codice fiscale): the check character, SPID's form, masking."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from lgnetforma.services.platform.errors import ServiceError

# Sixteen characters; the digit positions may hold letters (omocodia, DM 12/3/1974).
_SHAPE = re.compile(
    r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
_ODD_DIGITS = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21]  # 0-9, and A-J alike
_ODD = dict(
    zip(
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        _ODD_DIGITS + _ODD_DIGITS + [2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
        strict=True,
    )
)
_EVEN = {c: (int(c) if c.isdigit() else ord(c) - ord("A")) for c in _ODD}
# SPID's fiscalNumber attribute: "TINIT-" and the code (AgID technical rules, table 1).
SPID_PREFIX = "TINIT-"


def check_character(first15: str) -> str:
    """The 16th character the first fifteen call for."""
    total = sum(
        (_ODD if position % 2 == 0 else _EVEN)[char] for position, char in enumerate(first15)
    )
    return chr(ord("A") + total % 26)


def normalise(value: str) -> str:
    """Upper case, spaces removed, SPID's "TINIT-" prefix dropped."""
    code = "".join((value or "").split()).upper()
    if code.startswith(SPID_PREFIX):
        code = code[len(SPID_PREFIX) :]
    return code


def check_fiscal_code(value: str) -> str:
    """The code normalised, or ServiceError saying what is wrong with it."""
    code = normalise(value)
    if not code:
        raise ServiceError(_l("Il codice fiscale è obbligatorio."), field="fiscal_code")
    if len(code) != 16:
        raise ServiceError(
            _l(
                "Il codice fiscale ha 16 caratteri: «%(code)s» ne ha %(count)s.",
                code=code,
                count=len(code),
            ),
            field="fiscal_code",
        )
    if not _SHAPE.match(code):
        raise ServiceError(
            _l(
                "«%(code)s» non ha la forma di un codice fiscale "
                "(6 lettere, 2 cifre, una lettera per il mese, 2 cifre, "
                "una lettera e 3 cifre per il comune, il carattere di controllo).",
                code=code,
            ),
            field="fiscal_code",
        )
    expected = check_character(code[:15])
    if code[15] != expected:
        raise ServiceError(
            _l(
                "Il codice fiscale «%(code)s» non è corretto: l'ultimo carattere dovrebbe "
                "essere %(expected)s. Controlla di averlo scritto bene.",
                code=code,
                expected=expected,
            ),
            field="fiscal_code",
        )
    return code


def mask(code: str | None) -> str:
    """What others see: only the last four characters ("************501U")."""
    if not code:
        return ""
    return "*" * (len(code) - 4) + code[-4:]

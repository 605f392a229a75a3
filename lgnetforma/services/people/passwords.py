"""Password rules after OWASP ASVS 4 (2.1): length, not common, not the email.

No composition rules: spaces and any Unicode are welcome.
"""

from __future__ import annotations

import unicodedata
from functools import cache

from flask_babel import lazy_gettext as _l
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128


@cache
def _common_passwords() -> frozenset[str]:
    # zxcvbn ships a frequency list of ~30,000 passwords seen in public breaches.
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def _normalise(password: str) -> str:
    return unicodedata.normalize("NFC", password)


def password_problems(password: str, email: str = "") -> list[str]:
    """Every rule the password breaks, as messages naming the rule; empty when fine."""
    password = _normalise(password)
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(str(_l("La password deve contenere almeno %(n)d caratteri.", n=MIN_LENGTH)))
    if len(password) > MAX_LENGTH:
        problems.append(
            str(_l("La password può contenere al massimo %(n)d caratteri.", n=MAX_LENGTH))
        )
    folded = password.casefold()
    compact = "".join(folded.split())
    if folded in _common_passwords() or compact in _common_passwords():
        problems.append(
            str(
                _l("La password è tra quelle più comuni e facili da indovinare: scegline un'altra.")
            )
        )
    email = email.strip().casefold()
    local_part = email.split("@", 1)[0]
    if email and (email in folded or (len(local_part) >= 4 and local_part in folded)):
        problems.append(str(_l("La password non deve contenere il tuo indirizzo email.")))
    return problems


def hash_password(password: str) -> str:
    """A scrypt hash (memory-hard KDF, salted), via Werkzeug."""
    return generate_password_hash(_normalise(password), method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    return check_password_hash(password_hash, _normalise(password))

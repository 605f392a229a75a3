"""Form pieces shared by several areas."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import Field, Form, PasswordField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from lgnetforma.services.people.passwords import MAX_LENGTH
from lgnetforma.services.platform.text import PLAIN_TEXT_MESSAGE, has_control_characters


def strip(value: str | None) -> str | None:
    """A field filter: surrounding spaces are never meant."""
    return value.strip() if isinstance(value, str) else value


def required() -> DataRequired:
    return DataRequired(message=_l("Questo campo è obbligatorio."))


def plain_text(form: Form, field: Field) -> None:
    """A validator for names: the service layer's rule (services/text.py), said early."""
    if isinstance(field.data, str) and has_control_characters(field.data):
        raise ValidationError(PLAIN_TEXT_MESSAGE)


def email_validators() -> list:
    return [
        required(),
        Length(max=254, message=_l("L'indirizzo email è troppo lungo.")),
        Email(
            message=_l("Inserisci un indirizzo email valido, ad esempio nome@comune.it."),
            check_deliverability=False,
        ),
    ]


def new_password_field(label: str | None = None) -> Field:
    return PasswordField(
        label or _l("Password"),
        validators=[required()],
        description=_l(
            "Almeno 12 caratteri (fino a %(max)d). Puoi usare spazi e qualsiasi carattere: "
            "una frase facile da ricordare va benissimo. Evita password comuni e il tuo indirizzo "
            "email.",
            max=MAX_LENGTH,
        ),
        render_kw={"autocomplete": "new-password", "maxlength": MAX_LENGTH},
    )

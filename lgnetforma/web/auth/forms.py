"""Forms of the accounts area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import Length

from lgnetforma.web.forms import (
    email_validators,
    new_password_field,
    plain_text,
    required,
    strip,
)


class RegistrationForm(FlaskForm):
    full_name = StringField(
        _l("Nome e cognome"),
        validators=[
            required(),
            Length(max=200, message=_l("Al massimo 200 caratteri.")),
            plain_text,
        ],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        description=_l("Ti invieremo un link per confermarla."),
        render_kw={"autocomplete": "email"},
    )
    password = new_password_field()
    comune = StringField(
        _l("Comune"),
        validators=[required()],
        description=_l(
            "Scrivi il nome del comune o il suo codice ISTAT e scegli dall'elenco. "
            "Possono partecipare i comuni con più di %(threshold)s abitanti.",
            threshold="5.000",
        ),
        render_kw={"autocomplete": "off", "list": "comuni-list"},
    )


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        render_kw={"autocomplete": "username"},
    )
    password = PasswordField(
        _l("Password"), validators=[required()], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField(_l("Ricordami su questo dispositivo"))


class ResendConfirmationForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        render_kw={"autocomplete": "email"},
    )


class ResetRequestForm(FlaskForm):
    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        render_kw={"autocomplete": "email"},
    )


class ResetPasswordForm(FlaskForm):
    password = new_password_field(_l("Nuova password"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Password attuale"),
        validators=[required()],
        render_kw={"autocomplete": "current-password"},
    )
    password = new_password_field(_l("Nuova password"))


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        _l("Password attuale"),
        validators=[required()],
        render_kw={"autocomplete": "current-password"},
    )
    confirm = BooleanField(
        _l("Ho capito: il mio account e i miei dati personali saranno cancellati."),
        validators=[required()],
    )


class ApiTokenForm(FlaskForm):
    """A new personal access token; used with prefix="token" beside the other forms."""

    name = StringField(
        _l("Nome del token"),
        validators=[required(), Length(max=100, message=_l("Al massimo 100 caratteri."))],
        filters=[strip],
        description=_l("Per riconoscerlo in seguito, ad esempio «foglio di monitoraggio»."),
        render_kw={"autocomplete": "off", "maxlength": 100},
    )

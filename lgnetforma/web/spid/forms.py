"""Forms of the SPID/CIE pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField

from lgnetforma.web.forms import email_validators, required, strip


class CompletionForm(FlaskForm):
    """The first SPID/CIE login of an unknown person: what the IdP did not say."""

    email = EmailField(
        _l("Email"),
        validators=email_validators(),
        filters=[strip],
        description=_l("Per gli avvisi sui corsi. L'abbiamo ricevuta dal tuo gestore di identità."),
        render_kw={"autocomplete": "email"},
    )
    comune = StringField(
        _l("Comune"),
        validators=[required()],
        render_kw={"autocomplete": "off", "list": "comuni-list"},
    )
    privacy = BooleanField(
        _l("Ho letto l'informativa sul trattamento dei dati personali."),
        validators=[required()],
    )


class LinkForm(FlaskForm):
    """Link SPID/CIE to an account that has a password: the password first."""

    password = PasswordField(
        _l("Password attuale"),
        validators=[required()],
        render_kw={"autocomplete": "current-password"},
    )
    idp = HiddenField()

"""Forms of the coordination area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField

from lgnetforma.web.forms import email_validators, required, strip


class EnrolOperatorForm(FlaskForm):
    email = EmailField(
        _l("Email dell'operatore"),
        validators=email_validators(),
        filters=[strip],
        description=_l("L'operatore deve essere già registrato e appartenere al tuo territorio."),
    )
    course = SelectField(_l("Corso"), choices=[], validators=[required()])

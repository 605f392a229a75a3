"""Forms of the administration area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from lgnetforma.web.forms import email_validators, plain_text, required, strip

STAFF_ROLES = [
    SelectChoice("trainer", _l("Formatore")),
    SelectChoice("coordinator", _l("Coordinatore")),
    SelectChoice("admin", _l("Amministratore")),
]


class _ScopeFields(FlaskForm):
    scope_region = SelectField(
        _l("Ambito: regione"),
        choices=[],
        validators=[Optional()],
        description=_l("Solo per i coordinatori regionali. Lascia vuoto per l'ambito nazionale."),
    )
    scope_comune = StringField(
        _l("Ambito: comune (codice ISTAT o nome)"),
        validators=[Optional(), Length(max=200)],
        description=_l("Solo per i referenti di un comune, ad esempio 058091 per Roma."),
    )


class StaffCreateForm(_ScopeFields):
    full_name = StringField(
        _l("Nome e cognome"), validators=[required(), Length(max=200), plain_text]
    )
    email = EmailField(_l("Email"), validators=email_validators(), filters=[strip])
    role = SelectField(_l("Ruolo"), choices=STAFF_ROLES, validators=[required()])


class UserEditForm(_ScopeFields):
    full_name = StringField(
        _l("Nome e cognome"), validators=[required(), Length(max=200), plain_text]
    )
    role = SelectField(
        _l("Ruolo"), choices=[SelectChoice("operator", _l("Operatore")), *STAFF_ROLES]
    )
    active = BooleanField(_l("Account attivo"))


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Cerca per nome o email"), validators=[Optional()])
    role = SelectField(
        _l("Ruolo"),
        choices=[
            SelectChoice("", _l("Tutti")),
            SelectChoice("operator", _l("Operatore")),
            *STAFF_ROLES,
        ],
        validators=[Optional()],
    )

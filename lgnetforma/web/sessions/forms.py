"""Forms of the live sessions pages."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from lgnetforma.services.sessions.rules import KINDS
from lgnetforma.web.forms import plain_text, required, strip

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


class SessionForm(FlaskForm):
    title = StringField(
        _l("Titolo"), validators=[required(), Length(max=300), plain_text], filters=[strip]
    )
    description = TextAreaField(
        _l("Descrizione"),
        validators=[Optional(), Length(max=20_000)],
        description=_l("In Markdown, come i moduli dei corsi."),
        render_kw={"rows": 6},
    )
    kind = SelectField(
        _l("Tipo"),
        choices=[SelectChoice(key, label) for key, label in KINDS.items()],
        validators=[required()],
    )
    starts_at = DateTimeLocalField(
        _l("Inizio"),
        format=DATETIME_FORMAT,
        validators=[InputRequired(message=_l("Indica data e ora di inizio."))],
        description=_l("Ora italiana."),
    )
    ends_at = DateTimeLocalField(
        _l("Fine"),
        format=DATETIME_FORMAT,
        validators=[InputRequired(message=_l("Indica data e ora di fine."))],
        description=_l("Ora italiana."),
    )
    place = StringField(
        _l("Luogo"),
        validators=[Optional(), Length(max=300), plain_text],
        filters=[strip],
        description=_l("Per gli incontri in presenza o ibridi; lo vedono solo gli iscritti."),
    )
    link = StringField(
        _l("Collegamento alla piattaforma video"),
        validators=[Optional(), Length(max=500), plain_text],
        filters=[strip],
        description=_l("Un indirizzo https://; lo vedono solo gli iscritti."),
    )
    capacity = IntegerField(
        _l("Posti"),
        validators=[
            InputRequired(message=_l("Indica quanti posti ci sono.")),
            NumberRange(min=1, max=100_000, message=_l("Da 1 a 100.000 posti.")),
        ],
    )
    region_code = SelectField(_l("Aperto a"), choices=[], validate_choice=True)
    comune_code = StringField(
        _l("Solo per il comune (codice ISTAT)"),
        validators=[Optional(), Length(max=6)],
        filters=[strip],
        description=_l("Facoltativo, ad esempio 058091 per Roma."),
    )
    course_slug = SelectField(_l("Corso collegato"), choices=[], validate_choice=True)
    min_attendance = IntegerField(
        _l("Presenza minima (%)"),
        default=75,
        validators=[
            InputRequired(message=_l("Indica la presenza minima.")),
            NumberRange(min=1, max=100, message=_l("Una percentuale tra 1 e 100.")),
        ],
        description=_l("Chi è presente almeno per questa parte dell'incontro ottiene le ore."),
    )
    hours = DecimalField(
        _l("Ore riconosciute"),
        places=2,
        validators=[Optional(), NumberRange(min=0.25, max=12, message=_l("Da 0,25 a 12 ore."))],
        description=_l("Se manca, la durata dell'incontro."),
    )


class ActionForm(FlaskForm):
    """A button: only the CSRF token."""


class AttendanceImportForm(FlaskForm):
    file = FileField(
        _l("Rapporto presenze (CSV)"),
        validators=[FileRequired(message=_l("Scegli il file del rapporto presenze."))],
        description=_l(
            "Il rapporto dei partecipanti di Zoom, il rapporto presenze di Microsoft Teams o "
            "il nostro modello (email e minuti)."
        ),
        render_kw={"accept": ".csv,.txt,text/csv"},
    )


class AttendanceConfirmForm(FlaskForm):
    csv_text = HiddenField(validators=[InputRequired(message=_l("Il file è vuoto."))])

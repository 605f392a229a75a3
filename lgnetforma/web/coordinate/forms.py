"""Forms of the coordination area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from lgnetforma.web.forms import email_validators, required, strip


class EnrolOperatorForm(FlaskForm):
    email = EmailField(
        _l("Email dell'operatore"),
        validators=email_validators(),
        filters=[strip],
        description=_l("L'operatore deve essere già registrato e appartenere al tuo territorio."),
    )
    course = SelectField(_l("Corso"), choices=[], validators=[required()])


class BulkUploadForm(FlaskForm):
    file = FileField(
        _l("File CSV"),
        validators=[
            FileRequired(message=_l("Scegli un file CSV da caricare.")),
            FileAllowed(["csv"], message=_l("Il file deve essere un CSV (estensione .csv).")),
        ],
        description=_l(
            "Colonne nome, email, comune, corsi; separate da virgola o punto e virgola; "
            "codifica UTF-8; al massimo 5.000 righe e 2 MB."
        ),
        render_kw={"accept": ".csv,text/csv"},
    )


class BulkConfirmForm(FlaskForm):
    """The checked file travels back in the page: confirming checks it again."""

    csv_text = HiddenField(validators=[InputRequired(message=_l("Il file è vuoto."))])
    filename = HiddenField()


class ReminderForm(FlaskForm):
    course = SelectField(_l("Corso"), choices=[], default="")
    inactive_days = IntegerField(
        _l("Giorni di inattività"),
        default=14,
        validators=[
            InputRequired(message=_l("Indica il numero di giorni.")),
            NumberRange(min=0, max=365, message=_l("Indica un numero di giorni tra 0 e 365.")),
        ],
        description=_l(
            "Operatori che non aprono il corso da più di questi giorni "
            "(o che non l'hanno mai iniziato)."
        ),
    )
    subject = StringField(
        _l("Oggetto"),
        validators=[Optional(), Length(max=200, message=_l("Al massimo 200 caratteri."))],
    )
    message = TextAreaField(
        _l("Messaggio"),
        validators=[Optional(), Length(max=2000, message=_l("Al massimo 2.000 caratteri."))],
        description=_l(
            "Il testo che precede l'elenco dei corsi: il saluto, i link ai corsi e la firma "
            "sono aggiunti per ogni operatore. Lascia il testo proposto per scrivere a "
            "ciascuno nella sua lingua."
        ),
    )


class GrantAttemptsForm(FlaskForm):
    """More attempts at one quiz module; ``request_key`` makes a repeated submit a no-op."""

    module = HiddenField(validators=[InputRequired()])
    request_key = HiddenField(validators=[InputRequired()])
    extra = IntegerField(
        _l("Tentativi in più"),
        default=1,
        validators=[
            InputRequired(message=_l("Indica quanti tentativi concedere.")),
            NumberRange(min=1, max=10, message=_l("Indica da 1 a 10 tentativi in più.")),
        ],
    )
    reason = TextAreaField(
        _l("Motivo"),
        filters=[strip],
        validators=[
            InputRequired(message=_l("Scrivi il motivo della concessione.")),
            Length(max=500, message=_l("Il motivo può avere al massimo 500 caratteri.")),
        ],
        description=_l(
            "Resta registrato con la concessione: scrivi solo ciò che serve, ad esempio "
            "«connessione caduta durante il tentativo», senza dati sulla salute."
        ),
    )

"""Forms of the trainers' editor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import Length, Optional

from lgnetforma.services.catalogue.authoring import (
    MAX_AREA_LENGTH,
    MAX_HOURS,
    MAX_SLUG_LENGTH,
    MAX_TITLE_LENGTH,
)
from lgnetforma.web.coordinate.forms import GrantAttemptsForm
from lgnetforma.web.forms import email_validators, required, strip


def _slug_field(example: str) -> StringField:
    return StringField(
        _l("Slug (nome nell'indirizzo)"),
        validators=[required(), Length(max=MAX_SLUG_LENGTH)],
        filters=[strip],
        description=_l(
            "Lettere minuscole senza accenti, cifre e trattini, ad esempio %(example)s. "
            "Non si può cambiare in seguito.",
            example=example,
        ),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


def _title_field() -> StringField:
    return StringField(
        _l("Titolo"), validators=[required(), Length(max=MAX_TITLE_LENGTH)], filters=[strip]
    )


def parse_hours(text: str | None) -> float | None:
    """``"6"``, ``"1,5"`` or ``"1.5"`` as a number of hours; None if it is not one."""
    try:
        value = float((text or "").strip().replace(",", "."))
    except ValueError:
        return None
    return value if 0 < value <= MAX_HOURS else None


class NewCourseForm(FlaskForm):
    slug = _slug_field("lavoro-di-rete")
    title = _title_field()
    summary = TextAreaField(
        _l("Sommario"),
        validators=[Optional(), Length(max=1000)],
        filters=[strip],
        description=_l("Una o due frasi mostrate nel catalogo."),
        render_kw={"rows": 3},
    )
    hours = StringField(
        _l("Ore certificate"),
        validators=[required()],
        filters=[strip],
        description=_l("Le ore riportate sull'attestato, ad esempio 6 o 1,5."),
        render_kw={"inputmode": "decimal", "autocomplete": "off"},
    )
    area = StringField(
        _l("Area tematica"),
        validators=[Optional(), Length(max=MAX_AREA_LENGTH)],
        filters=[strip],
        description=_l("Facoltativa: raggruppa i corsi nel catalogo."),
    )
    cycle = SelectField(_l("Ciclo formativo"), choices=[], validators=[required()])

    def validate_hours(self, field: StringField) -> None:
        if parse_hours(field.data) is None:
            raise ValidationError(
                _l("Indica le ore certificate con un numero positivo, ad esempio 6 o 1,5.")
            )


class AddModuleForm(FlaskForm):
    slug = _slug_field("indicatori-di-risultato")
    title = _title_field()


def _source_field(label: str, help_text: str) -> TextAreaField:
    return TextAreaField(
        label,
        id="editor-source",
        description=help_text,
        render_kw={"rows": 28, "data-editor-source": ""},
    )


class ModuleSourceForm(FlaskForm):
    source = _source_field(
        _l("Testo del modulo (Markdown)"),
        _l(
            "In alto, tra due righe '---', i campi title, duration (minuti) e, se servono, "
            "objectives. Poi il testo. Il questionario va in un blocco che si apre con "
            "```quiz e si chiude con ```: '? ' apre una domanda, '- [x] ' è un'opzione "
            "corretta, '- [ ] ' una sbagliata, '= ' una risposta breve accettata, '> ' il "
            "commento. Gli errori sono indicati con il numero di riga."
        ),
    )


class CourseSourceForm(FlaskForm):
    source = _source_field(
        _l("Scheda del corso (course.md, Markdown)"),
        _l(
            "In alto, tra due righe '---', i campi title, summary, cycle, hours, area, pass "
            "e status (draft o published). Poi la descrizione del corso. Gli errori sono "
            "indicati con il numero di riga."
        ),
    )


class TrainerGrantForm(GrantAttemptsForm):
    """A trainer grants an operator more attempts at a quiz of one of their courses: the
    coordinators' grant form, with the operator's email and a choice of quiz."""

    email = EmailField(
        _l("Email dell'operatore"),
        validators=email_validators(),
        filters=[strip],
    )
    module = SelectField(_l("Questionario"), choices=[], validators=[required()])

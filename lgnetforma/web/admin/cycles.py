"""The training cycles: list them, open a new one, close one (admins only)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, DateField, IntegerField, StringField
from wtforms.validators import InputRequired, Regexp, StopValidation, ValidationError

from lgnetforma.extensions import db
from lgnetforma.models import Cycle
from lgnetforma.services.platform import cycles as cycles_service
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.admin.routes import bp
from lgnetforma.web.audit import audit
from lgnetforma.web.forms import required, strip

# --- forms -----------------------------------------------------------------------------


class CloseCycleForm(FlaskForm):
    confirm = BooleanField(
        _l("Confermo: i dati del ciclo saranno congelati e non potranno più cambiare."),
        validators=[InputRequired(message=_l("Spunta la casella per confermare la chiusura."))],
    )


class _DateField(DateField):
    """A date typed as AAAA-MM-GG, with an Italian message when it is not one."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(
                _("Scrivi una data esistente nella forma AAAA-MM-GG, ad esempio 2027-01-01.")
            ) from error


class _WholeNumberField(IntegerField):
    """A whole number, with an Italian message when it is not one."""

    def process_formdata(self, valuelist: list) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(_("Scrivi un numero intero, senza punti, ad esempio 5000.")) from error


def _not_negative(form: FlaskForm, field: IntegerField) -> None:
    if field.process_errors:
        raise StopValidation()  # its own message says what is wrong
    if field.data is not None and field.data < 0:
        raise ValidationError(_("Indica un numero intero maggiore o uguale a zero."))


def _typed() -> InputRequired:
    return InputRequired(message=_l("Questo campo è obbligatorio."))


class OpenCycleForm(FlaskForm):
    code = StringField(
        _l("Codice del ciclo"),
        validators=[
            required(),
            Regexp(
                cycles_service.CODE_PATTERN,
                message=_l(
                    "Il codice del ciclo deve avere la forma AAAA-AAAA, ad esempio 2027-2028."
                ),
            ),
        ],
        filters=[strip],
        description=_l("Gli anni del primo e dell'ultimo giorno, ad esempio 2027-2028."),
    )
    start_date = _DateField(
        _l("Primo giorno"), validators=[_typed()], description=_l("Ad esempio 2027-01-01.")
    )
    end_date = _DateField(
        _l("Ultimo giorno"), validators=[_typed()], description=_l("Ad esempio 2028-12-31.")
    )
    threshold = _WholeNumberField(
        _l("Soglia di popolazione"),
        validators=[_typed(), _not_negative],
        description=_l("Possono partecipare i comuni con più abitanti di questa soglia."),
    )
    make_current = BooleanField(_l("Rendi corrente questo ciclo"))


def _close_form(cycle: Cycle, *, submitted: bool = False) -> CloseCycleForm:
    """One small form per open cycle; the prefix keeps the checkbox ids apart."""
    prefix = f"chiudi-{cycle.code}"
    if submitted:
        return CloseCycleForm(prefix=prefix)
    return CloseCycleForm(formdata=None, prefix=prefix)


# --- views -----------------------------------------------------------------------------


def _list_page(
    status: int = 200, *, failed: Cycle | None = None, failed_form: CloseCycleForm | None = None
) -> tuple[str, int]:
    cycles = cycles_service.all_cycles()
    forms = {
        cycle.id: failed_form
        if failed is not None and cycle.id == failed.id
        else _close_form(cycle)
        for cycle in cycles
        if cycle.closed_at is None
    }
    return render_template(
        "admin/cycles.html",
        cycles=cycles,
        snapshots=cycles_service.snapshots_by_cycle(),
        forms=forms,
        eligible={c.id: cycles_service.count_eligible_comuni(c) for c in cycles},
    ), status


@bp.get("/cicli")
@roles_required("admin")
def cycles() -> tuple[str, int]:
    return _list_page()


@bp.post("/cicli/<code>/chiudi")
@roles_required("admin")
def close_cycle(code: str) -> Response | tuple[str, int]:
    cycle = cycles_service.cycle_by_code(code) or abort(404)
    form = _close_form(cycle, submitted=True)
    if cycle.closed_at is None and not form.validate_on_submit():
        return _list_page(400, failed=cycle, failed_form=form)
    was_current = cycle.is_current
    try:
        snapshot = cycles_service.close_cycle(
            cycle,
            current_user._get_current_object(),  # type: ignore[attr-defined]
        )
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return redirect(url_for("admin.cycles"))
    audit("cycle.closed", object_type="cycle", object_id=cycle.code)
    db.session.commit()
    when = snapshot.created_at.strftime("%d/%m/%Y %H:%M UTC")
    flash(
        _("Ciclo %(code)s chiuso: i suoi dati sono congelati al %(when)s.", code=code, when=when),
        "success",
    )
    if was_current:
        flash(
            _(
                "Nessun ciclo è corrente finché non ne apri uno nuovo: fino ad allora iscrizioni "
                "e corsi sono sospesi."
            ),
            "warning",
        )
    return redirect(url_for("admin.cycles"))


@bp.route("/cicli/nuovo", methods=["GET", "POST"])
@roles_required("admin")
def new_cycle() -> Response | tuple[str, int]:
    form = OpenCycleForm()
    if form.validate_on_submit():
        try:
            cycle = cycles_service.open_cycle(
                form.code.data,
                form.start_date.data,
                form.end_date.data,
                form.threshold.data,
                make_current=form.make_current.data,
            )
        except ServiceError as error:
            db.session.rollback()
            field = getattr(form, error.field or "code")
            field.errors = [*field.errors, str(error)]
        else:
            db.session.commit()
            flash(_("Ciclo %(code)s aperto.", code=cycle.code), "success")
            return redirect(url_for("admin.cycles"))
    status = 400 if form.errors else 200
    return render_template("admin/cycles_new.html", form=form), status

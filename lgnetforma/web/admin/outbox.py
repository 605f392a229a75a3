"""The outbox and the worker's scheduled jobs, as admins see them."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, NumberRange, Optional

from lgnetforma.extensions import db
from lgnetforma.models import MailStatus, OutboundMail
from lgnetforma.services.platform import jobs
from lgnetforma.services.platform import mail as mail_service
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.admin.routes import PAGE_SIZE, bp
from lgnetforma.web.audit import audit

STATUS_LABELS = {
    MailStatus.QUEUED: _l("In coda"),
    MailStatus.SENT: _l("Inviato"),
    MailStatus.FAILED: _l("Non consegnato"),
    MailStatus.CANCELLED: _l("Annullato"),
}
KIND_LABELS = {
    "confirm": _l("Conferma dell'indirizzo"),
    "reset": _l("Recupero password"),
    "invitation": _l("Invito"),
    "reminder": _l("Promemoria"),
    "register_existing": _l("Registrazione con indirizzo già usato"),
}
WEEKDAY_LABELS = (
    _l("lunedì"),
    _l("martedì"),
    _l("mercoledì"),
    _l("giovedì"),
    _l("venerdì"),
    _l("sabato"),
    _l("domenica"),
)


class OutboxFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Destinatario"), validators=[Optional()])
    status = SelectField(
        _l("Stato"),
        choices=[
            SelectChoice("", _l("Tutti")),
            *(SelectChoice(k, v) for k, v in STATUS_LABELS.items()),
        ],
        validators=[Optional()],
    )
    kind = SelectField(
        _l("Tipo"),
        choices=[
            SelectChoice("", _l("Tutti")),
            *(SelectChoice(k, v) for k, v in KIND_LABELS.items()),
        ],
        validators=[Optional()],
    )


class ReminderScheduleForm(FlaskForm):
    enabled = BooleanField(_l("Invia i promemoria automatici"))
    weekday = SelectField(
        _l("Giorno della settimana"),
        choices=[SelectChoice(str(i), label) for i, label in enumerate(WEEKDAY_LABELS)],
        coerce=int,
    )
    hour = IntegerField(
        _l("Ora (ora italiana, 0-23)"),
        validators=[
            InputRequired(message=_l("Indica l'ora.")),
            NumberRange(min=0, max=23, message=_l("Indica un'ora tra 0 e 23.")),
        ],
    )
    inactive_days = IntegerField(
        _l("Giorni di inattività"),
        validators=[
            InputRequired(message=_l("Indica il numero di giorni.")),
            NumberRange(min=1, max=365, message=_l("Indica un numero di giorni tra 1 e 365.")),
        ],
        description=_l(
            "Operatori del ciclo aperto con un corso non completato e nessuna attività da "
            "più di questi giorni. Nessuno riceve più di un promemoria ogni 7 giorni."
        ),
    )


@bp.get("/posta")
@roles_required("admin")
def outbox() -> tuple[str, int]:
    form = OutboxFilterForm(request.args)
    valid = form.validate()
    page = db.paginate(
        mail_service.outbox_query(
            status=form.status.data or "", kind=form.kind.data or "", text=form.q.data or ""
        )
        if valid
        else mail_service.outbox_query(),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    counts = dict(
        db.session.execute(
            db.select(OutboundMail.status, db.func.count()).group_by(OutboundMail.status)
        ).all()
    )
    return render_template(
        "admin/outbox.html",
        form=form,
        page=page,
        counts=counts,
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
    ), (200 if valid else 400)


def _mail_or_404(mail_id: int) -> OutboundMail:
    return db.session.get(OutboundMail, mail_id) or abort(404)


def _back() -> Response:
    return redirect(url_for("admin.outbox", **{k: v for k, v in request.args.items() if v}))


@bp.post("/posta/<int:mail_id>/reinvia")
@roles_required("admin")
def resend_mail(mail_id: int) -> Response:
    mail = _mail_or_404(mail_id)
    if FlaskForm().validate_on_submit():
        copy = mail_service.resend(mail)
        audit(
            "mail.resent",
            object_type="outbound_mail",
            object_id=mail.id,
            details={"copy": copy.id, "recipient": mail.recipient, "kind": mail.kind},
        )
        db.session.commit()
        flash(
            _("Una nuova copia del messaggio per %(email)s è in coda.", email=mail.recipient),
            "success",
        )
    return _back()


@bp.post("/posta/<int:mail_id>/annulla")
@roles_required("admin")
def cancel_mail(mail_id: int) -> Response:
    mail = _mail_or_404(mail_id)
    if FlaskForm().validate_on_submit():
        if mail_service.cancel(mail):
            audit(
                "mail.cancelled",
                object_type="outbound_mail",
                object_id=mail.id,
                details={"recipient": mail.recipient, "kind": mail.kind},
            )
            db.session.commit()
            flash(_("Messaggio per %(email)s annullato.", email=mail.recipient), "success")
        else:
            db.session.rollback()
            flash(_("Il messaggio non è più in coda: non è stato annullato."), "warning")
    return _back()


@bp.route("/attivita", methods=["GET", "POST"])
@roles_required("admin")
def scheduled_jobs() -> str | Response | tuple[str, int]:
    schedule = jobs.reminder_schedule()
    form = ReminderScheduleForm(
        data={
            "enabled": schedule.enabled,
            "weekday": schedule.weekday,
            "hour": schedule.hour,
            "inactive_days": schedule.inactive_days,
        }
    )
    status = 200
    if form.validate_on_submit():
        try:
            jobs.update_reminder_schedule(
                enabled=form.enabled.data,
                weekday=form.weekday.data,
                hour=form.hour.data,
                inactive_days=form.inactive_days.data,
                actor=current_user,
            )
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "hour").errors.append(str(error))
            status = 400
        else:
            audit(
                "reminder_schedule.updated",
                object_type="reminder_schedule",
                object_id=1,
                details={
                    "enabled": form.enabled.data,
                    "weekday": form.weekday.data,
                    "hour": form.hour.data,
                    "inactive_days": form.inactive_days.data,
                },
            )
            db.session.commit()
            flash(_("Promemoria automatici salvati."), "success")
            return redirect(url_for("admin.scheduled_jobs"))
    elif form.is_submitted():
        status = 400
    db.session.commit()  # the settings row, created on first use
    return render_template(
        "admin/jobs.html",
        form=form,
        runs=jobs.recent_runs(),
        weekday_labels=WEEKDAY_LABELS,
        schedule=schedule,
    ), status

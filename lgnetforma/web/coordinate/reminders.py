"""Reminder pages: choose the operators, preview the mail, send."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from lgnetforma.extensions import db
from lgnetforma.models import Course, User, utcnow
from lgnetforma.services.catalogue.listing import catalogue
from lgnetforma.services.coordination import reminders as service
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.audit import scope_territory
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit
from lgnetforma.web.coordinate.forms import ReminderForm
from lgnetforma.web.coordinate.routes import bp

SHOWN = 500  # recipients listed on the page; the count covers all of them


def _form(**kwargs: object) -> tuple[ReminderForm, dict[str, Course]]:
    form = ReminderForm(**kwargs)
    courses = {entry.course.slug: entry.course for entry in catalogue(current_cycle())}
    form.course.choices = [
        SelectChoice("", _("Tutti i corsi")),
        *(
            SelectChoice(slug, course.current_version.title)
            for slug, course in courses.items()
            if course.current_version
        ),
    ]
    return form, courses


def _page(form: ReminderForm, courses: dict[str, Course], status: int = 200) -> tuple[str, int]:
    cycle = current_cycle()
    now = utcnow()
    valid = not form.errors
    found = (
        service.candidates(
            Scope.of(current_user),
            cycle,
            course=courses.get(form.course.data or ""),
            inactive_days=form.inactive_days.data,
            now=now,
        )
        if valid
        else []
    )
    skipped = [c for c in found if c.throttled(now)]
    if found:
        sample_user, sample_courses = found[0].user, [p.course for p in found[0].courses]
    else:
        sample_user = User(full_name=_("Nome Cognome"))
        selected = courses.get(form.course.data or "")
        sample_courses = [selected] if selected else list(courses.values())[:2]
    if not form.subject.data:
        form.subject.data = service.default_subject()
    if not form.message.data:
        form.message.data = service.default_message()
    subject, body = service.render_reminder(sample_user, sample_courses, _wording(form))
    return render_template(
        "coordinate/reminders.html",
        form=form,
        valid=valid,
        candidates=found[:SHOWN],
        total=len(found),
        to_send=len(found) - len(skipped),
        skipped=len(skipped),
        now=now,
        shown=SHOWN,
        subject=subject,
        body=body,
        throttle_days=service.THROTTLE.days,
    ), status


def _wording(form: ReminderForm) -> service.Wording:
    return service.Wording.of(form.subject.data, form.message.data)


@bp.get("/promemoria")
@roles_required("coordinator", "admin")
def reminders() -> tuple[str, int]:
    if request.args:
        form, courses = _form(formdata=request.args, meta={"csrf": False})
        form.validate()
    else:
        form, courses = _form(formdata=None, meta={"csrf": False})
    return _page(form, courses, 200 if not form.errors else 400)


@bp.post("/promemoria", endpoint="send_reminders")
@roles_required("coordinator", "admin")
def send() -> Response | tuple[str, int]:
    form, courses = _form()
    if not form.validate_on_submit():
        return _page(form, courses, 400)
    course = courses.get(form.course.data or "")
    outcome = service.send_reminders(
        Scope.of(current_user),
        current_cycle(),
        course=course,
        inactive_days=form.inactive_days.data,
        actor=current_user._get_current_object(),  # type: ignore[attr-defined]
        wording=_wording(form),
    )
    audit(
        "reminders.sent",
        details={
            "sent": len(outcome.sent),
            "skipped": len(outcome.skipped),
            "queued": len(outcome.sent),
            "custom_subject": _wording(form).subject is not None,
            "custom_message": _wording(form).message is not None,
            "course": course.slug if course else None,
            "inactive_days": form.inactive_days.data,
        },
        **scope_territory(Scope.of(current_user)),
    )
    db.session.commit()
    flash(
        _(
            "%(sent)s promemoria in coda: partiranno nei prossimi minuti. %(skipped)s saltati "
            "perché già avvisati negli ultimi %(days)s giorni.",
            sent=len(outcome.sent),
            skipped=len(outcome.skipped),
            days=service.THROTTLE.days,
        ),
        "success",
    )
    return redirect(
        url_for(
            "coordinate.reminders",
            course=form.course.data or None,
            inactive_days=form.inactive_days.data,
        )
    )

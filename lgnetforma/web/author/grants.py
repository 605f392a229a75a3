"""Trainers grant more quiz attempts for the courses they write (the coordinators do it from
the operator's page in the gradebook); both go through ``allowances.grant_attempts``."""

from __future__ import annotations

import secrets

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from lgnetforma.extensions import db
from lgnetforma.models import Module, Role, User
from lgnetforma.services.learning import allowances
from lgnetforma.services.people.accounts import normalise_email
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.author.forms import TrainerGrantForm
from lgnetforma.web.author.routes import EDITORS, bp


def _form(modules: list[Module]) -> TrainerGrantForm:
    form = TrainerGrantForm()
    form.module.choices = [
        SelectChoice(str(m.id), f"{m.course.current_version.title} – {m.current_version.title}")
        for m in modules
    ]
    if not form.request_key.data:
        form.request_key.data = secrets.token_urlsafe(24)
    return form


@bp.route("/tentativi", methods=["GET", "POST"])
@roles_required(*EDITORS)
def grant_attempts() -> str | Response | tuple[str, int]:
    cycle = current_cycle()
    modules = allowances.grantable_modules(current_user, cycle)
    form = _form(modules)
    if form.validate_on_submit():
        module = next((m for m in modules if str(m.id) == form.module.data), None)
        operator = db.session.scalar(
            select(User).where(
                User.email == normalise_email(form.email.data),
                User.role == Role.OPERATOR,
                User.deleted_at.is_(None),
            )
        )
        try:
            if module is None or operator is None:
                raise ServiceError(
                    _("Nessun operatore iscritto a questo corso con questa email."),
                    field="email",
                )
            granted = allowances.grant_attempts(
                current_user,
                operator,
                module,
                cycle,
                extra=form.extra.data,
                reason=form.reason.data or "",
                request_key=form.request_key.data,
                ip=request.remote_addr,
            )
        except ServiceError as error:
            db.session.rollback()
            field = "email" if error.field == "module" else error.field or "reason"
            getattr(form, field).errors.append(str(error))
        else:
            db.session.commit()
            flash(
                ngettext(
                    "Concesso a %(name)s %(num)d tentativo in più.",
                    "Concessi a %(name)s %(num)d tentativi in più.",
                    granted.grant.extra,
                    name=operator.full_name,
                ),
                "success",
            )
            return redirect(url_for("author.grant_attempts"))
        return render_template("author/grants.html", form=form, modules=modules), 400
    return render_template("author/grants.html", form=form, modules=modules)

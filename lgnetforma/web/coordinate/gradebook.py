"""The gradebook: the operators of a selection, one operator's record, attempt grants.

The list reads the dashboard's View (the same cycle and Selection), so the totals of the
dashboard link to exactly the operators they count.
"""

from __future__ import annotations

import secrets

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Enrolment, Module, User
from lgnetforma.services.coordination import gradebook
from lgnetforma.services.learning import allowances
from lgnetforma.services.platform.cycles import cycle_is_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting import figures
from lgnetforma.web.access import roles_required
from lgnetforma.web.coordinate.dashboard import View, request_view
from lgnetforma.web.coordinate.forms import GrantAttemptsForm
from lgnetforma.web.coordinate.routes import bp
from lgnetforma.web.urls import RowPage

PAGE_SIZE = 50
STATUS_LABELS = {
    "not_started": _l("Non iniziato"),
    "in_progress": _l("In corso"),
    "completed": _l("Completato"),
    "used_up": _l("Tentativi esauriti"),
}
SORT_LABELS = {
    "name": _l("Nome"),
    "comune": _l("Comune"),
    "completions": _l("Corsi completati, dal più alto"),
    "status": _l("Stato"),
}
# The dashboard's and the list's names of a status in the query string.
STATUS_ARGS = {
    "non-iniziato": "not_started",
    "in-corso": "in_progress",
    "completato": "completed",
    "tentativi-esauriti": "used_up",
}


def _comuni(view: View) -> list[Comune]:
    """The comuni of the selection with operators enrolled in the cycle: the filter's
    choices (bounded by activity, not by the thousands of comuni of a region)."""
    return list(
        db.session.scalars(
            select(Comune)
            .where(
                view.selection.comune_condition(),
                Comune.id.in_(
                    select(User.comune_id)
                    .join(Enrolment, Enrolment.user_id == User.id)
                    .where(Enrolment.cycle_id == view.cycle.id)
                ),
            )
            .order_by(Comune.name, Comune.istat_code)
        )
    )


@bp.get("/operatori")
@roles_required("coordinator", "admin")
def operators() -> str:
    view = request_view()
    status_arg = request.args.get("stato", "")
    status = STATUS_ARGS.get(status_arg)
    sort = request.args.get("ordine", "name")
    if sort not in gradebook.SORTS:
        sort = "name"
    search = (request.args.get("q") or "").strip()[: gradebook.MAX_SEARCH]
    page = RowPage(
        gradebook.operator_query(
            view.cycle, view.selection, status=status, search=search or None, sort=sort
        ),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
    )
    return render_template(
        "coordinate/operators.html",
        view=view,
        page=page,
        status_arg=status_arg if status else "",
        status_args={v: k for k, v in STATUS_ARGS.items()},
        status_labels=STATUS_LABELS,
        sort=sort,
        sort_labels=SORT_LABELS,
        search=search,
        comuni=_comuni(view),
        courses=figures.completion_report(view.cycle, view.scope, "course"),
    )


def _operator_or_404(view: View, user_id: int) -> User:
    operator = gradebook.visible_operator(view.selection, user_id)
    if operator is None:
        abort(404)
    return operator


def _grant_form(module: Module) -> GrantAttemptsForm:
    form = GrantAttemptsForm(prefix=f"m{module.id}")
    form.module.data = module.slug
    form.request_key.data = secrets.token_urlsafe(24)
    return form


@bp.get("/operatori/<int:user_id>")
@roles_required("coordinator", "admin")
def operator(user_id: int) -> str:
    view = request_view()
    operator = _operator_or_404(view, user_id)
    return _render_operator(view, operator)


def _render_operator(view: View, operator: User, *, failed: GrantAttemptsForm | None = None) -> str:
    records = gradebook.operator_record(operator, view.cycle)
    forms = {}
    if cycle_is_open(view.cycle):
        for record in records:
            for line in record.modules:
                if line.allowance is not None and line.allowance.allowed is not None:
                    is_failed = failed is not None and failed.module.data == line.module.slug
                    forms[line.module.id] = failed if is_failed else _grant_form(line.module)
    return render_template(
        "coordinate/operator.html",
        view=view,
        operator=operator,
        records=records,
        grants=allowances.grants_of(operator, view.cycle),
        forms=forms,
    )


@bp.post("/operatori/<int:user_id>/tentativi")
@roles_required("coordinator", "admin")
def grant(user_id: int) -> str | Response | tuple[str, int]:
    view = request_view()
    operator = _operator_or_404(view, user_id)
    module_slug = next((v for k, v in request.form.items() if k.endswith("-module")), None)
    module = None
    for enrolment in db.session.scalars(
        select(Enrolment).where(
            Enrolment.user_id == operator.id, Enrolment.cycle_id == view.cycle.id
        )
    ):
        module = next((m for m in enrolment.course.active_modules if m.slug == module_slug), module)
    if module is None:
        abort(404)
    form = GrantAttemptsForm(prefix=f"m{module.id}")
    if form.validate_on_submit():
        try:
            granted = allowances.grant_attempts(
                current_user,
                operator,
                module,
                view.cycle,
                extra=form.extra.data,
                reason=form.reason.data or "",
                request_key=form.request_key.data,
                ip=request.remote_addr,
            )
        except PermissionError:
            db.session.rollback()
            abort(404)
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "reason", form.reason).errors.append(str(error))
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
            return redirect(url_for("coordinate.operator", user_id=operator.id, **view.args))
    return _render_operator(view, operator, failed=form), 400

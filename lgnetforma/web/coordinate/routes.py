"""Views of the coordination area (coordinators within their scope, and admins)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from lgnetforma.extensions import db
from lgnetforma.models import Course
from lgnetforma.services.catalogue.listing import catalogue
from lgnetforma.services.coordination.enrolment import certificates_in_scope, enrol_operator
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning.certificates import certificates_zip
from lgnetforma.services.learning.enrolment import enrolment_for
from lgnetforma.services.platform.audit import scope_territory
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit, audit_page
from lgnetforma.web.certificates import verify_url
from lgnetforma.web.coordinate.forms import EnrolOperatorForm

bp = Blueprint("coordinate", __name__, url_prefix="/coordinamento")


@bp.after_request
def _private(response: Response) -> Response:
    """Pages of the coordination area show personal data and figures of a territory: no
    shared cache keeps them, and the browser does not store them."""
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def _enrol_form() -> EnrolOperatorForm:
    form = EnrolOperatorForm()
    form.course.choices = [
        SelectChoice(entry.course.slug, entry.version.title) for entry in catalogue(current_cycle())
    ]
    return form


@bp.get("/")
@roles_required("coordinator", "admin")
def home() -> str:
    return render_template("coordinate/home.html", form=_enrol_form(), scope=current_user)


@bp.post("/iscrizioni")
@roles_required("coordinator", "admin")
def enrol() -> str | Response | tuple[str, int]:
    form = _enrol_form()
    if form.validate_on_submit():
        course = db.session.scalar(db.select(Course).filter_by(slug=form.course.data))
        cycle = current_cycle()
        try:
            user = enrol_operator(
                email=form.email.data,
                course=course,
                cycle=cycle,
                scope=Scope.of(current_user),
                actor=current_user,
            )
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "email").errors.append(str(error))
        else:
            enrolment = enrolment_for(user, course, cycle)
            audit(
                "enrolment.created",
                object_type="enrolment",
                object_id=enrolment.id if enrolment else None,
                comune_id=user.comune_id,
                details={"operator": user.id, "course": course.slug, "cycle": cycle.code},
            )
            db.session.commit()
            flash(_("Iscrizione di %(name)s al corso registrata.", name=user.full_name), "success")
            return redirect(url_for("coordinate.home"))
    return render_template("coordinate/home.html", form=form, scope=current_user), 400


@bp.get("/attestati.zip")
@roles_required("coordinator", "admin")
def certificates() -> Response:
    cycle = current_cycle()
    scope = Scope.of(current_user)
    items = [
        (certificate, verify_url(certificate.code))
        for certificate in certificates_in_scope(scope, cycle)
    ]
    audit(
        "export",
        details={"table": "attestati", "format": "zip", "cycle": cycle.code, "rows": len(items)},
        **scope_territory(scope),
    )
    db.session.commit()
    return Response(
        certificates_zip(items),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="attestati-{cycle.code}.zip"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/registro")
@roles_required("coordinator", "admin")
def audit_log() -> tuple[str, int]:
    """The events about comuni and regions of the coordinator's territory."""
    return audit_page("coordinate/audit.html", scope=Scope.of(current_user))

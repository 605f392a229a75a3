"""Views of the catalogue and of reading a course."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from lgnetforma.content import Quiz
from lgnetforma.extensions import db
from lgnetforma.models import Certificate, Course, CourseCompletion
from lgnetforma.services.catalogue import listing as catalogue_service
from lgnetforma.services.learning import allowances, views
from lgnetforma.services.learning import completion as completion_service
from lgnetforma.services.learning import enrolment as enrolment_service
from lgnetforma.services.learning import progress as progress_service
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit

bp = Blueprint("learn", __name__)

MEDIA_MAX_AGE = 3600


def _can_see_drafts() -> bool:
    return current_user.is_authenticated and current_user.has_role("trainer", "admin")


def _visible_course(slug: str) -> Course:
    course = catalogue_service.course_by_slug(slug)
    if course is None or course.current_version is None:
        abort(404)
    if not course.is_published and not _can_see_drafts():
        abort(404)
    return course


@bp.get("/corsi")
def catalogue() -> str:
    cycle = current_cycle()
    entries = catalogue_service.catalogue(cycle, include_drafts=_can_see_drafts())
    # The operator's own courses are marked: enrolled, or completed.
    mine = (
        {
            item.enrolment.course_id: item
            for item in progress_service.my_courses(current_user, cycle)
        }
        if _operator()
        else {}
    )
    return render_template("learn/catalogue.html", cycle=cycle, entries=entries, mine=mine)


def _operator() -> bool:
    return current_user.is_authenticated and current_user.role == "operator"


@bp.get("/corsi/<slug>")
def course(slug: str) -> str:
    course = _visible_course(slug)
    modules = catalogue_service.active_modules(course)
    cycle = current_cycle()
    enrolment = statuses = completion = next_module = None
    if _operator():
        enrolment = enrolment_service.enrolment_for(current_user, course, cycle)
        if enrolment is not None:
            statuses = progress_service.module_statuses(current_user, course, cycle)
            completion = completion_service.course_completion(current_user, course, cycle)
            next_module = progress_service.next_modules(current_user, cycle, [course.id]).get(
                course.id
            )
    return render_template(
        "learn/course.html",
        course=course,
        version=course.current_version,
        modules=modules,
        enrolment=enrolment,
        statuses=statuses or {},
        completion=completion,
        next_module=next_module,
        can_enrol=_operator() and enrolment is None and course.is_published,
    )


@bp.post("/corsi/<slug>/iscrizione")
@roles_required("operator")
def enrol(slug: str) -> Response:
    course = _visible_course(slug)
    cycle = current_cycle()
    try:
        enrolment = enrolment_service.enrol(current_user, course, cycle)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "warning")
    else:
        audit(
            "enrolment.created",
            object_type="enrolment",
            object_id=enrolment.id,
            comune_id=current_user.comune_id,
            details={"operator": current_user.id, "course": course.slug, "cycle": cycle.code},
        )
        db.session.commit()
        flash(
            _("Iscrizione confermata a «%(title)s».", title=course.current_version.title),
            "success",
        )
    return redirect(url_for("learn.course", slug=slug))


@bp.get("/i-miei-corsi")
@roles_required("operator")
def my_courses() -> str:
    cycle = current_cycle()
    progress = progress_service.my_courses(current_user, cycle)
    return render_template(
        "learn/my_courses.html",
        cycle=cycle,
        progress=progress,
        next_modules=progress_service.next_modules(
            current_user, cycle, [item.enrolment.course_id for item in progress]
        ),
    )


@bp.get("/corsi/<slug>/<module_slug>")
@login_required
def module(slug: str, module_slug: str) -> str:
    course = _visible_course(slug)
    modules = catalogue_service.active_modules(course)
    index = next((i for i, m in enumerate(modules) if m.slug == module_slug), None)
    if index is None:
        abort(404)
    module = modules[index]
    version = module.current_version
    quiz = Quiz.from_dict(version.quiz).public_dict() if version.quiz else None
    cycle = current_cycle()
    enrolment = attempts = allowance = None
    grantors: list = []
    if _operator():
        enrolment = enrolment_service.enrolment_for(current_user, course, cycle)
        if enrolment is not None:
            recorded = views.record_view(current_user, module, version, cycle, enrolment)
            if recorded.changed:  # a repeated view writes nothing and commits nothing
                audit_completion(recorded.completion)
                db.session.commit()
            attempts = views.attempt_rows(current_user, module, cycle)
            if version.quiz is not None:
                allowance = allowances.attempt_allowance(current_user, module, cycle)
                if allowance.used_up:
                    grantors = allowances.grantors_for(current_user)
    return render_template(
        "learn/module.html",
        course=course,
        module=module,
        version=version,
        quiz=quiz,
        enrolment=enrolment,
        attempts=attempts or [],
        passed=any(a.passed for a in attempts or []),
        allowance=allowance,
        grantors=grantors,
        previous=modules[index - 1] if index > 0 else None,
        next=modules[index + 1] if index + 1 < len(modules) else None,
        position=index + 1,
        total=len(modules),
    )


def audit_completion(completion: CourseCompletion | None) -> None:
    """Record a course completion just made, and the certificate issued with it."""
    if completion is None:
        return
    audit(
        "course.completed",
        object_type="course_completion",
        object_id=completion.id,
        comune_id=completion.comune_id,
        details={"course": completion.course.slug, "cycle": completion.cycle.code},
    )
    code = db.session.scalar(
        select(Certificate.code).where(Certificate.completion_id == completion.id)
    )
    if code is not None:
        audit(
            "certificate.issued",
            object_type="certificate",
            object_id=code,
            comune_id=completion.comune_id,
            details={"completion": completion.id},
        )


@bp.get("/corsi/<slug>/media/<path:path>")
def media(slug: str, path: str) -> Response:
    course = _visible_course(slug)
    # Only exact stored paths are served: "..", absolute paths and the like never match.
    media = catalogue_service.media_file(course, f"media/{path}")
    if media is None:
        abort(404)
    response = Response(media.content, mimetype=media.content_type)
    response.set_etag(media.content_hash)
    response.cache_control.public = True
    response.cache_control.max_age = MEDIA_MAX_AGE
    # An SVG opened on its own must not run anything.
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response.make_conditional(request)

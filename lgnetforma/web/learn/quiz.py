"""Quiz attempts: start (or resume), submit exactly once, review."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from lgnetforma.content import Quiz
from lgnetforma.extensions import db
from lgnetforma.models import QuizAttempt
from lgnetforma.services.catalogue import listing as catalogue_service
from lgnetforma.services.learning import allowances
from lgnetforma.services.learning import attempts as attempts_service
from lgnetforma.services.learning import completion as completion_service
from lgnetforma.services.learning import progress as progress_service
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit
from lgnetforma.web.learn.routes import _visible_course, audit_completion, bp


def _module(slug: str, module_slug: str):  # noqa: ANN202
    course = _visible_course(slug)
    for module in catalogue_service.active_modules(course):
        if module.slug == module_slug:
            return course, module
    abort(404)


@bp.route("/corsi/<slug>/<module_slug>/questionario", methods=["GET"])
@roles_required("operator")
def quiz(slug: str, module_slug: str) -> str | Response:
    """Opening the quiz starts an attempt, or resumes the open one."""
    course, module = _module(slug, module_slug)
    cycle = current_cycle()
    try:
        attempt = attempts_service.start_attempt(current_user, module, cycle)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "warning")
        return redirect(url_for("learn.module", slug=slug, module_slug=module_slug))
    db.session.commit()
    return _render_quiz(attempt)


def _render_quiz(
    attempt: QuizAttempt,
    *,
    errors: list[str] | None = None,
    missing: list[int] | None = None,
    chosen=None,  # noqa: ANN001
) -> str:
    quiz = Quiz.from_dict(attempt.module_version.quiz)
    return render_template(
        "learn/quiz.html",
        **_allowance(attempt),
        attempt=attempt,
        course=attempt.module.course,
        module=attempt.module,
        quiz=quiz.public_dict(),
        errors=errors or [],
        missing=missing or [],
        chosen=chosen or {},
    ), (400 if errors or missing else 200)


def _attempt_or_404(public_id: str) -> QuizAttempt:
    try:
        return attempts_service.attempt_by_public_id(public_id, current_user)
    except LookupError:
        abort(404)


@bp.post("/tentativi/<public_id>")
@roles_required("operator")
def submit(public_id: str) -> str | Response:
    attempt = _attempt_or_404(public_id)
    quiz = Quiz.from_dict(attempt.module_version.quiz)
    answers: dict[int, list[str] | str] = {}
    chosen: dict[str, list[str]] = {}
    for question in quiz.questions:
        values = [v for v in request.form.getlist(f"q{question.number}") if v != ""]
        chosen[str(question.number)] = values
        if values:
            answers[question.number] = values[0] if question.kind == "short" else values
    missing = [q.number for q in quiz.questions if q.number not in answers]
    if missing:  # every missing answer named and linked, not only the first
        return _render_quiz(attempt, missing=missing, chosen=chosen)
    course = attempt.module.course
    try:
        submission = attempts_service.submit_attempt(attempt, answers)
    except ServiceError as error:
        db.session.rollback()
        return _render_quiz(attempt, errors=[str(error)], chosen=chosen)
    if submission.first_time:
        audit(
            "attempt.submitted",
            object_type="quiz_attempt",
            object_id=attempt.public_id,
            comune_id=current_user.comune_id,
            details={
                "course": course.slug,
                "module": attempt.module.slug,
                "number": attempt.number,
                "score": attempt.score,
                "passed": attempt.passed,
            },
        )
        audit_completion(submission.completion)
    db.session.commit()
    if not submission.first_time:
        flash(_("Questo tentativo era già stato inviato: ecco il suo risultato."), "info")
    return redirect(url_for("learn.attempt", public_id=public_id), code=303)


@bp.get("/tentativi/<public_id>")
@roles_required("operator")
def attempt(public_id: str) -> str | Response:
    attempt = _attempt_or_404(public_id)
    if not attempt.is_submitted:
        return _render_quiz(attempt)
    quiz = Quiz.from_dict(attempt.module_version.quiz)
    results = {r["number"]: r for r in attempt.results or []}
    cycle = current_cycle()
    allowance = _allowance(attempt)
    course = attempt.module.course
    return render_template(
        "learn/result.html",
        next_module=progress_service.next_modules(current_user, cycle, [course.id]).get(course.id),
        attempt=attempt,
        course=attempt.module.course,
        module=attempt.module,
        quiz=quiz,
        results=results,
        completion=completion_service.course_completion(current_user, attempt.module.course, cycle),
        can_retry=not allowance["allowance"].passed
        and not allowance["allowance"].used_up
        and attempt.module.current_version_id is not None
        and attempt.cycle_id == cycle.id,
        **allowance,
    )


def _allowance(attempt: QuizAttempt) -> dict:
    """The attempts left at the attempt's quiz, and who can grant more when none are."""
    allowance = allowances.attempt_allowance(current_user, attempt.module, attempt.cycle)
    grantors = allowances.grantors_for(current_user) if allowance.used_up else []
    return {"allowance": allowance, "grantors": grantors}

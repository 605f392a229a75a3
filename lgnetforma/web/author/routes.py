"""Views of the trainers' editor: thin wrappers over ``services.authoring``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from lgnetforma.content import Preview, Problem
from lgnetforma.extensions import db
from lgnetforma.models import Course, Cycle, Module
from lgnetforma.services.catalogue import authoring
from lgnetforma.services.catalogue.listing import course_by_slug
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.author.forms import (
    AddModuleForm,
    CourseSourceForm,
    ModuleSourceForm,
    NewCourseForm,
    parse_hours,
)

bp = Blueprint("author", __name__, url_prefix="/editor")

EDITORS = ("trainer", "admin")


# --------------------------------------------------------------------------- helpers


def problem_label(problem: Problem) -> str:
    """``Riga 12: la domanda non ha alcuna opzione corretta`` (warnings say so)."""
    if problem.severity == "warning":
        return _("Riga %(line)s (avviso): %(message)s", line=problem.line, message=problem.message)
    return _("Riga %(line)s: %(message)s", line=problem.line, message=problem.message)


def problems_status(problems: tuple[Problem, ...]) -> str:
    """A one-line count of the problems, announced when the preview changes."""
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    if not problems:
        return _("Anteprima aggiornata: nessun problema.")
    parts = []
    if errors:
        parts.append(ngettext("%(num)s errore", "%(num)s errori", errors))
    if warnings:
        parts.append(ngettext("%(num)s avviso", "%(num)s avvisi", warnings))
    return _("Anteprima aggiornata: %(counts)s.", counts=", ".join(parts))


def _course(slug: str) -> Course:
    course = course_by_slug(slug)
    if course is None or course.current_version is None:
        abort(404)
    return course


def _module(course: Course, module_slug: str) -> Module:
    module = next((m for m in course.modules if m.slug == module_slug), None)
    if module is None or module.current_version is None:
        abort(404)
    return module


def _media_prefix(course: Course) -> str:
    """Where the editor's pages find the course's media (a module page uses ``media/``)."""
    return url_for("learn.media", slug=course.slug, path="")


def _action() -> str:
    return "save" if request.form.get("action") == "save" else "preview"


def _field_error(form: Any, error: ServiceError, default: str) -> None:
    field = getattr(form, error.field or default, None) or getattr(form, default)
    field.errors = [*field.errors, str(error)]


def _render(template: str, **context: Any) -> str:
    return render_template(
        template, problem_label=problem_label, problems_status=problems_status, **context
    )


def _course_page(
    course: Course,
    *,
    source_form: CourseSourceForm | None = None,
    module_form: AddModuleForm | None = None,
    kept_draft: bool = False,
) -> str:
    if source_form is None:
        source_form = CourseSourceForm(formdata=None, data={"source": _course_text(course)})
    preview = authoring.preview_course(
        course, source_form.source.data or "", media_prefix=_media_prefix(course)
    )
    return _render(
        "author/course.html",
        course=course,
        version=course.current_version,
        modules=authoring.editor_modules(course),
        form=source_form,
        module_form=module_form or AddModuleForm(formdata=None, prefix="module"),
        preview=preview,
        kept_draft=kept_draft,
    )


def _course_text(course: Course) -> str:
    if course.draft_source is not None:
        return course.draft_source
    return course.current_version.source


def _module_text(module: Module) -> str:
    if module.draft_source is not None:
        return module.draft_source
    return module.current_version.source


# --------------------------------------------------------------------------- courses


@bp.get("/")
@roles_required(*EDITORS)
def courses() -> str:
    return render_template("author/courses.html", entries=authoring.editor_courses())


@bp.route("/nuovo-corso", methods=["GET", "POST"])
@roles_required(*EDITORS)
def new_course() -> str | Response:
    form = NewCourseForm()
    cycles = list(db.session.scalars(select(Cycle).order_by(Cycle.start_date)))
    form.cycle.choices = [SelectChoice(c.code, c.code) for c in cycles]
    if request.method == "GET":
        form.cycle.data = current_cycle().code
    if form.validate_on_submit():
        cycle = next(c for c in cycles if c.code == form.cycle.data)
        try:
            course = authoring.create_course(
                slug=form.slug.data,
                title=form.title.data,
                summary=form.summary.data or "",
                hours=parse_hours(form.hours.data) or 0,
                area=form.area.data or None,
                cycle=cycle,
                actor=current_user,
            )
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error, "title")
        else:
            db.session.commit()
            flash(_("Corso creato come bozza: aggiungi i moduli, poi pubblicalo."), "success")
            return redirect(url_for("author.edit_course", slug=course.slug))
    return render_template("author/new_course.html", form=form)


@bp.route("/corsi/<slug>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit_course(slug: str) -> str | Response:
    course = _course(slug)
    if request.method == "GET":
        return _course_page(course)
    form = CourseSourceForm()
    form.validate_on_submit()  # CSRF is checked for every POST; the text by the service
    if _action() == "save":
        problems = authoring.save_course_source(course, form.source.data or "", current_user)
        db.session.commit()  # also when there are errors: the draft is kept
        if not authoring.has_errors(problems):
            flash(_("Scheda del corso salvata."), "success")
            return redirect(url_for("author.edit_course", slug=slug))
        return _course_page(course, source_form=form, kept_draft=True)
    return _course_page(course, source_form=form)


@bp.post("/corsi/<slug>/bozza/scarta")
@roles_required(*EDITORS)
def discard_course_draft(slug: str) -> Response:
    authoring.discard_course_draft(_course(slug))
    db.session.commit()
    flash(_("Bozza scartata: il testo è quello dell'ultima versione salvata."), "info")
    return redirect(url_for("author.edit_course", slug=slug))


@bp.post("/corsi/<slug>/pubblicazione")
@roles_required(*EDITORS)
def publish(slug: str) -> Response:
    course = _course(slug)
    published = request.form.get("published") == "1"
    try:
        authoring.set_published(course, published, current_user)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        db.session.commit()
        if published:
            flash(_("Corso pubblicato: gli operatori lo vedono nel catalogo."), "success")
        else:
            flash(_("Corso ritirato dalla pubblicazione: ora è una bozza."), "success")
    return redirect(url_for("author.edit_course", slug=slug))


@bp.post("/corsi/<slug>/anteprima")
@roles_required(*EDITORS)
def preview(slug: str) -> Response | tuple[Response, int]:
    """JSON (or form) ``{"source": …, "module": slug?}`` -> the rendered preview."""
    course = _course(slug)
    payload = request.get_json(silent=True) if request.is_json else request.form
    source = payload.get("source") if isinstance(payload, dict) else None
    module_slug = payload.get("module") if isinstance(payload, dict) else None
    if not isinstance(source, str) or not isinstance(module_slug, str | None):
        return jsonify(error=_("Richiesta non valida: manca il testo da visualizzare.")), 400
    prefix = _media_prefix(course)
    if module_slug:
        module = _module(course, module_slug)
        result = authoring.preview_module(course, source, module=module, media_prefix=prefix)
    else:
        result = authoring.preview_course(course, source, media_prefix=prefix)
    return jsonify(_preview_json(result))


def _preview_json(result: Preview) -> dict[str, Any]:
    return {
        "html": render_template("author/_preview_body.html", preview=result),
        "toc_html": result.toc_html,
        "problems": [
            {
                "line": p.line,
                "message": p.message,
                "severity": p.severity,
                "code": p.code,
                "label": problem_label(p),
            }
            for p in result.problems
        ],
        "status": problems_status(result.problems),
    }


# --------------------------------------------------------------------------- modules


@bp.post("/corsi/<slug>/moduli")
@roles_required(*EDITORS)
def add_module(slug: str) -> str | Response:
    course = _course(slug)
    form = AddModuleForm(prefix="module")
    if form.validate_on_submit():
        try:
            module = authoring.add_module(course, form.slug.data, form.title.data, current_user)
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error, "slug")
        else:
            db.session.commit()
            flash(_("Modulo aggiunto: scrivi il suo testo e salvalo."), "success")
            return redirect(url_for("author.edit_module", slug=slug, module_slug=module.slug))
    return _course_page(course, module_form=form)


@bp.route("/corsi/<slug>/moduli/<module_slug>", methods=["GET", "POST"])
@roles_required(*EDITORS)
def edit_module(slug: str, module_slug: str) -> str | Response:
    course = _course(slug)
    module = _module(course, module_slug)
    kept_draft = False
    if request.method == "GET":
        form = ModuleSourceForm(formdata=None, data={"source": _module_text(module)})
    else:
        form = ModuleSourceForm()
        form.validate_on_submit()  # CSRF is checked for every POST; the text by the service
        if _action() == "save":
            problems = authoring.save_module_source(module, form.source.data or "", current_user)
            db.session.commit()  # also when there are errors: the draft is kept
            if not authoring.has_errors(problems):
                flash(
                    _("Modulo salvato (versione %(n)s).", n=module.current_version.number),
                    "success",
                )
                return redirect(url_for("author.edit_module", slug=slug, module_slug=module_slug))
            kept_draft = True
    preview = authoring.preview_module(
        course, form.source.data or "", module=module, media_prefix=_media_prefix(course)
    )
    return _render(
        "author/module.html",
        course=course,
        module=module,
        version=module.current_version,
        form=form,
        preview=preview,
        kept_draft=kept_draft,
    )


@bp.post("/corsi/<slug>/moduli/<module_slug>/bozza/scarta")
@roles_required(*EDITORS)
def discard_module_draft(slug: str, module_slug: str) -> Response:
    authoring.discard_module_draft(_module(_course(slug), module_slug))
    db.session.commit()
    flash(_("Bozza scartata: il testo è quello dell'ultima versione salvata."), "info")
    return redirect(url_for("author.edit_module", slug=slug, module_slug=module_slug))


def _module_change(slug: str, module_slug: str, change: Any, message: str) -> Response:
    """Apply ``change(module)``; flash the outcome; back to the module list."""
    module = _module(_course(slug), module_slug)
    try:
        change(module)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("author.edit_course", slug=slug, _anchor="moduli"))


@bp.post("/corsi/<slug>/moduli/<module_slug>/sposta")
@roles_required(*EDITORS)
def move_module(slug: str, module_slug: str) -> Response:
    direction = request.form.get("direction", "")
    return _module_change(
        slug,
        module_slug,
        lambda module: authoring.move_module(module, direction),
        _("Ordine dei moduli aggiornato."),
    )


@bp.post("/corsi/<slug>/moduli/<module_slug>/ritira")
@roles_required(*EDITORS)
def retire_module(slug: str, module_slug: str) -> Response:
    return _module_change(
        slug,
        module_slug,
        authoring.retire_module,
        _("Modulo ritirato: non è più nel corso, ma la sua storia resta."),
    )


@bp.post("/corsi/<slug>/moduli/<module_slug>/ripristina")
@roles_required(*EDITORS)
def restore_module(slug: str, module_slug: str) -> Response:
    return _module_change(
        slug, module_slug, authoring.restore_module, _("Modulo ripristinato nel corso.")
    )

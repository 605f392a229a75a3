"""Public pages: home, privacy notice, accessibility statement, language switch."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
)
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from lgnetforma.content.render import render_markdown
from lgnetforma.extensions import db
from lgnetforma.paths import PACKAGE_ROOT
from lgnetforma.services.learning import progress as progress_service
from lgnetforma.services.platform.cycles import NoCurrentCycle, count_eligible_comuni, current_cycle
from lgnetforma.web.urls import safe_next_url

bp = Blueprint("public", __name__)

# Pages whose text the deployer edits: a Markdown file per language in instance/pages/
# (the PAGES_DIR setting, which the tests point elsewhere) overrides the shipped one.
EDITABLE_PAGES = {
    "privacy": _l("Informativa sul trattamento dei dati personali"),
    "accessibilita": _l("Dichiarazione di accessibilità"),
}


@bp.get("/")
def home() -> str:
    try:
        cycle = current_cycle()
    except NoCurrentCycle as error:  # between two cycles: the home page still answers
        return render_template("public/home.html", cycle=None, no_cycle=str(error))
    progress, next_modules = [], {}
    if current_user.is_authenticated and current_user.role == "operator":
        progress = progress_service.my_courses(current_user, cycle)
        next_modules = progress_service.next_modules(
            current_user, cycle, [item.enrolment.course_id for item in progress]
        )
    return render_template(
        "public/home.html",
        cycle=cycle,
        eligible_count=count_eligible_comuni(cycle),
        progress=progress,
        next_modules=next_modules,
    )


@bp.get("/healthz")
def health() -> Response:
    """For load balancers: the app answers. No database, no session, no template."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def ready() -> Response:
    """For orchestrators: 200 when the database answers, else 503 (with Retry-After)."""
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.error("not ready: database unreachable: %s", error)
        return Response("database unreachable\n", status=503, mimetype="text/plain")
    finally:
        db.session.remove()
    return Response("ready\n", mimetype="text/plain")


@bp.get("/privacy")
def privacy() -> str:
    return _editable_page("privacy")


@bp.get("/accessibilita")
def accessibility() -> str:
    return _editable_page("accessibilita")


def _editable_page(name: str) -> str:
    locale = str(get_locale() or "it")
    override_dir = Path(
        current_app.config.get("PAGES_DIR") or Path(current_app.instance_path) / "pages"
    )
    for folder in (override_dir, PACKAGE_ROOT / "pages"):
        for filename in (f"{name}.{locale}.md", f"{name}.it.md"):
            path = folder / filename
            if path.is_file():
                body = render_markdown(path.read_text(encoding="utf-8")).html
                return render_template(
                    "public/page.html", title=EDITABLE_PAGES[name], body=body, name=name
                )
    abort(404)


@bp.post("/lingua")
def set_language() -> Response:
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next_url(request.form.get("next")))

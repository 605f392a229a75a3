"""Item analysis pages for trainers."""

from __future__ import annotations

from flask import abort, render_template

from lgnetforma.extensions import db
from lgnetforma.models import ModuleVersion
from lgnetforma.services.catalogue.item_analysis import analyse, quizzes_overview
from lgnetforma.web.access import roles_required
from lgnetforma.web.author.routes import EDITORS, bp


@bp.get("/analisi")
@roles_required(*EDITORS)
def analysis() -> str:
    return render_template("author/analysis.html", quizzes=quizzes_overview())


@bp.get("/analisi/<int:version_id>")
@roles_required(*EDITORS)
def analysis_detail(version_id: int) -> str:
    version = db.session.get(ModuleVersion, version_id)
    if version is None or version.quiz is None:
        abort(404)
    return render_template("author/analysis_detail.html", analysis=analyse(version))

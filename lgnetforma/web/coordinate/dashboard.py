"""The coordinators' dashboard, coverage page and exports.

Pages and exports read the same report functions with the same arguments, so a figure on
screen and in a spreadsheet cannot differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Response, abort, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, Cycle, Province, Region
from lgnetforma.services import reports
from lgnetforma.services.cycles import reporting_cycle
from lgnetforma.services.exports import csv_lines, xlsx_file
from lgnetforma.services.scope import Scope
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit
from lgnetforma.web.coordinate.routes import bp
from lgnetforma.web.urls import RowPage

UNREACHED_PAGE_SIZE = 50

FIGURE_HEADERS = [
    _l("Operatori iscritti"),
    _l("Attivi negli ultimi 30 giorni"),
    _l("Iscrizioni"),
    _l("Corsi completati"),
    _l("Tasso di completamento"),
    _l("Tentativi di questionario"),
    _l("Tasso di superamento dei questionari"),
]
LEVEL_LABELS = {
    "region": _l("Regione"),
    "province": _l("Provincia"),
    "comune": _l("Comune"),
    "course": _l("Corso"),
}


@dataclass(frozen=True)
class View:
    """What the request asks for, checked against the coordinator's scope."""

    cycle: Cycle
    scope: Scope
    level: reports.GroupBy
    region: Region | None
    province: Province | None

    @property
    def args(self) -> dict[str, str]:
        args = {"ciclo": self.cycle.code}
        if self.region is not None:
            args["regione"] = self.region.code
        if self.province is not None:
            args["provincia"] = self.province.code
        return args

    @property
    def territory(self) -> dict[str, int | None]:
        """The drill-down filter, as the report functions take it."""
        return {
            "region_id": self.region.id if self.region else None,
            "province_id": self.province.id if self.province else None,
        }

    def report(self, group_by: reports.GroupBy | None = None) -> list[reports.ReportRow]:
        return reports.completion_report(
            self.cycle,
            self.scope,
            group_by or self.level,
            region_id=self.region.id
            if self.region and (group_by or self.level) != "course"
            else None,
            province_id=self.province.id
            if self.province and (group_by or self.level) != "course"
            else None,
        )


def _view() -> View:
    scope = Scope.of(current_user)
    code = request.args.get("ciclo")
    cycle = db.session.scalar(select(Cycle).filter_by(code=code)) if code else reporting_cycle()
    if cycle is None:
        abort(404)
    region = province = None
    if request.args.get("provincia"):
        province = db.session.scalar(select(Province).filter_by(code=request.args["provincia"]))
        if province is None or not _province_in_scope(scope, province):
            abort(404)
        region = province.region
    elif request.args.get("regione"):
        region = db.session.scalar(select(Region).filter_by(code=request.args["regione"]))
        if region is None or not _region_in_scope(scope, region):
            abort(404)
    if province is not None or scope.kind == "comune":
        level: reports.GroupBy = "comune"
    elif region is not None or scope.kind == "region":
        level = "province"
    else:
        level = "region"
    return View(cycle, scope, level, region, province)


def _region_in_scope(scope: Scope, region: Region) -> bool:
    return bool(
        db.session.scalar(
            select(Comune.id)
            .where(Comune.region_id == region.id, scope.comune_condition())
            .limit(1)
        )
    )


def _province_in_scope(scope: Scope, province: Province) -> bool:
    return bool(
        db.session.scalar(
            select(Comune.id)
            .where(Comune.province_id == province.id, scope.comune_condition())
            .limit(1)
        )
    )


def _drill_url(view: View, row: reports.ReportRow) -> str | None:
    if view.level == "region":
        return url_for("coordinate.dashboard", ciclo=view.cycle.code, regione=row.key)
    if view.level == "province":
        province = db.session.get(Province, row.id)
        return url_for("coordinate.dashboard", ciclo=view.cycle.code, provincia=province.code)
    return None


@bp.get("/monitoraggio")
@roles_required("coordinator", "admin")
def dashboard() -> str:
    view = _view()
    territory = view.report()
    courses = view.report("course")
    months = reports.completions_by_month(view.cycle, view.scope)
    # The bar chart shows the rows of the territory table: by region for a national view.
    chart_rows = territory
    return render_template(
        "coordinate/dashboard.html",
        view=view,
        cycles=db.session.scalars(select(Cycle).order_by(Cycle.start_date)).all(),
        summary=reports.summary(view.cycle, view.scope),
        coverage=reports.coverage(
            view.cycle,
            view.scope,
            **view.territory,
        ),
        territory=territory,
        drill={row.id: _drill_url(view, row) for row in territory},
        courses=courses,
        months=months,
        level_label=LEVEL_LABELS[view.level],
        bar_chart=json.dumps(
            {
                "labels": [row.name for row in chart_rows],
                "values": [row.figures.completions for row in chart_rows],
                "label": _("Corsi completati"),
            }
        ),
        line_chart=json.dumps(
            {
                "labels": [m.label for m in months],
                "values": [m.completions for m in months],
                "label": _("Corsi completati per mese"),
            }
        ),
    )


@bp.get("/copertura")
@roles_required("coordinator", "admin")
def coverage() -> str:
    view = _view()
    sort = request.args.get("ordine", "population_desc")
    if sort not in reports.SORTS:
        sort = "population_desc"
    page = RowPage(
        reports.unreached_query(
            view.cycle,
            view.scope,
            **view.territory,
            sort=sort,
        ),
        page=request.args.get("page", 1, type=int),
        per_page=UNREACHED_PAGE_SIZE,
    )
    regions = db.session.scalars(
        select(Region)
        .where(Region.id.in_(select(Comune.region_id).where(view.scope.comune_condition())))
        .order_by(Region.name)
    ).all()
    provinces = db.session.scalars(
        select(Province)
        .where(
            Province.id.in_(
                select(Comune.province_id).where(
                    view.scope.comune_condition(),
                    *([Comune.region_id == view.region.id] if view.region else []),
                )
            )
        )
        .order_by(Province.name)
    ).all()
    return render_template(
        "coordinate/coverage.html",
        view=view,
        sort=sort,
        coverage=reports.coverage(
            view.cycle,
            view.scope,
            **view.territory,
        ),
        page=page,
        regions=regions,
        provinces=provinces,
    )


# --- exports ---------------------------------------------------------------------------


def _figure_cells(figures: reports.Figures) -> list[Any]:
    return [
        figures.enrolled,
        figures.active,
        figures.enrolments,
        figures.completions,
        figures.completion_rate,
        figures.attempts,
        figures.pass_rate,
    ]


def _table(view: View, name: str) -> tuple[str, list[str], Iterable[Sequence[Any]]]:
    """(title, headers, rows) of an exportable table."""
    if name == "territori":
        headers = [str(LEVEL_LABELS[view.level]), _("Codice"), *map(str, FIGURE_HEADERS)]
        rows = ([r.name, r.key, *_figure_cells(r.figures)] for r in view.report())
        return _("Territori"), headers, rows
    if name == "corsi":
        headers = [_("Corso"), _("Codice"), *map(str, FIGURE_HEADERS)]
        rows = ([r.name, r.key, *_figure_cells(r.figures)] for r in view.report("course"))
        return _("Corsi"), headers, rows
    if name == "mesi":
        months = reports.completions_by_month(view.cycle, view.scope)
        return (
            _("Mesi"),
            [_("Mese"), _("Corsi completati")],
            ([m.label, m.completions] for m in months),
        )
    if name == "copertura":
        query = reports.unreached_query(
            view.cycle,
            view.scope,
            **view.territory,
        )
        headers = [_("Comune"), _("Codice ISTAT"), _("Provincia"), _("Regione"), _("Abitanti")]

        def rows() -> Iterable[Sequence[Any]]:
            # Runs while the response streams, after the view's session has been closed:
            # the query starts here, not in the view.
            for c, p, r in db.session.execute(query.execution_options(yield_per=2000)):
                yield [c.name, c.istat_code, p.abbreviation, r.name, c.population]

        return _("Comuni non raggiunti"), headers, rows()
    if name == "operatori":
        course_id = None
        if request.args.get("corso"):
            course_id = db.session.scalar(
                select(Course.id).filter_by(slug=request.args["corso"])
            ) or abort(404)
        headers = [
            _("Nome"),
            _("Email"),
            _("Comune"),
            _("Provincia"),
            _("Regione"),
            _("Corso"),
            _("Moduli completati"),
            _("Miglior punteggio"),
            _("Data di completamento"),
        ]
        rows = (
            [row[c] for c in reports.DETAIL_COLUMNS]
            for row in reports.operator_detail(view.cycle, view.scope, course_id=course_id)
        )
        return _("Operatori"), headers, rows
    abort(404)


@bp.get("/esporta/<name>.<fmt>")
@roles_required("coordinator", "admin")
def export(name: str, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    view = _view()
    title, headers, rows = _table(view, name)
    audit(
        "export",
        comune_id=view.scope.comune_id,
        region_id=view.region.id if view.region else view.scope.region_id,
        details={
            "table": name,
            "format": fmt,
            "cycle": view.cycle.code,
            "region": view.region.code if view.region else None,
            "province": view.province.code if view.province else None,
            "course": request.args.get("corso"),
        },
    )
    db.session.commit()
    filename = f"lgnetforma-{name}-{view.cycle.code}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return Response(
            stream_with_context(csv_lines(headers, rows)),
            mimetype="text/csv",
            headers={**disposition, "Cache-Control": "private, no-store"},
        )
    handle = xlsx_file(title, headers, rows)
    response = Response(
        _chunks(handle),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={**disposition, "Cache-Control": "private, no-store"},
    )
    response.call_on_close(handle.close)
    return response


def _chunks(handle, size: int = 64 * 1024):  # noqa: ANN001, ANN202
    while chunk := handle.read(size):
        yield chunk

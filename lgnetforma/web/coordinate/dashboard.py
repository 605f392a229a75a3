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
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Course, Cycle, Province, Region
from lgnetforma.services.coordination.scope import (
    Scope,
    Selection,
    SelectionError,
    resolve_selection,
)
from lgnetforma.services.platform.cycles import reporting_cycle
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import detail, facts
from lgnetforma.services.reporting import figures as figures_service
from lgnetforma.services.reporting.exports import Month, Percent, csv_lines, xlsx_file
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
RATE_COLUMNS = (4, 6)  # the positions of the rates in FIGURE_HEADERS
LEVEL_LABELS = {
    "region": _l("Regione"),
    "province": _l("Provincia"),
    "comune": _l("Comune"),
    "course": _l("Corso"),
}


@dataclass(frozen=True)
class View:
    """What the request asks for: a cycle and one Selection inside the user's scope."""

    cycle: Cycle
    selection: Selection

    @property
    def scope(self) -> Scope:
        return self.selection.scope

    @property
    def region(self) -> Region | None:
        return self.selection.region

    @property
    def province(self) -> Province | None:
        return self.selection.province

    @property
    def comune(self) -> Comune | None:
        return self.selection.comune

    @property
    def course(self) -> Course | None:
        return self.selection.course

    @property
    def level(self) -> facts.GroupBy:
        """How the territory table groups its rows: one level below the selection."""
        return {"national": "region", "region": "province"}.get(  # type: ignore[return-value]
            self.selection.level, "comune"
        )

    @property
    def args(self) -> dict[str, str]:
        """The query string that names this view (links, forms, exports)."""
        args = {"ciclo": self.cycle.code}
        if self.comune is not None:
            args["comune"] = self.comune.istat_code
        elif self.province is not None:
            args["provincia"] = self.province.code
        elif self.region is not None:
            args["regione"] = self.region.code
        if self.course is not None:
            args["corso"] = self.course.slug
        return args

    @property
    def territory(self) -> dict[str, int | None]:
        """The drill-down filter, as the report functions take it."""
        return self.selection.filters

    def summary(self) -> facts.Figures:
        return figures_service.summary(
            self.cycle, self.scope, course_id=self.selection.course_id, **self.territory
        )

    def report(self, group_by: facts.GroupBy | None = None) -> list[facts.ReportRow]:
        return figures_service.completion_report(
            self.cycle,
            self.scope,
            group_by or self.level,
            course_id=self.selection.course_id,
            **self.territory,
        )

    def months(self) -> list[figures_service.MonthCount]:
        return figures_service.completions_by_month(
            self.cycle, self.scope, course_id=self.selection.course_id, **self.territory
        )

    def coverage(self) -> coverage_service.Coverage:
        return coverage_service.coverage(self.cycle, self.scope, **self.territory)

    def operators(self) -> Iterable[dict[str, Any]]:
        return detail.operator_detail(
            self.cycle, self.scope, course_id=self.selection.course_id, **self.territory
        )


def request_view() -> View:
    """The request's cycle and selection (``regione``, ``provincia``, ``comune``,
    ``corso``), or 404 for anything missing or outside the user's scope."""
    scope = Scope.of(current_user)
    code = request.args.get("ciclo")
    cycle = db.session.scalar(select(Cycle).filter_by(code=code)) if code else reporting_cycle()
    if cycle is None:
        abort(404)
    try:
        selection = resolve_selection(
            scope,
            region=request.args.get("regione") or None,
            province=request.args.get("provincia") or None,
            comune=request.args.get("comune") or None,
            course=request.args.get("corso") or None,
            cycle_id=cycle.id,
        )
    except SelectionError:
        abort(404)
    return View(cycle, selection)


def _drill_url(view: View, row: facts.ReportRow) -> str | None:
    args = {k: v for k, v in view.args.items() if k in ("ciclo", "corso")}
    if view.level == "region":
        return url_for("coordinate.dashboard", regione=row.key, **args)
    if view.level == "province":
        province = db.session.get(Province, row.id)
        return url_for("coordinate.dashboard", provincia=province.code, **args)
    if view.level == "comune" and view.comune is None:
        return url_for("coordinate.dashboard", comune=row.key, **args)
    return None


def month_label(month: figures_service.MonthCount) -> str:
    """The month's short name in the user's language: "gen 2025"."""
    return format_date(month.first_day, "MMM yyyy")


@bp.get("/monitoraggio")
@roles_required("coordinator", "admin")
def dashboard() -> str:
    view = request_view()
    territory = view.report()
    courses = view.report("course")
    months = view.months()
    level_label = LEVEL_LABELS[view.level]
    return render_template(
        "coordinate/dashboard.html",
        view=view,
        cycles=db.session.scalars(select(Cycle).order_by(Cycle.start_date)).all(),
        course_choices=figures_service.completion_report(view.cycle, view.scope, "course"),
        summary=view.summary(),
        coverage=view.coverage(),
        territory=territory,
        drill={row.id: _drill_url(view, row) for row in territory},
        courses=courses,
        months=months,
        month_labels=[month_label(m) for m in months],
        level_label=level_label,
        bar_chart=json.dumps(
            {
                "title": _("Corsi completati per %(level)s", level=str(level_label).lower()),
                "x": str(level_label),
                "y": _("Corsi completati"),
                "labels": [row.name for row in territory],
                "values": [row.figures.completions for row in territory],
                "label": _("Corsi completati"),
            }
        ),
        line_chart=json.dumps(
            {
                "title": _("Corsi completati per mese"),
                "x": _("Mese"),
                "y": _("Corsi completati"),
                "labels": [month_label(m) for m in months],
                "values": [m.completions for m in months],
                "label": _("Corsi completati"),
            }
        ),
    )


@bp.get("/copertura")
@roles_required("coordinator", "admin")
def coverage() -> str:
    view = request_view()
    sort = request.args.get("ordine", "population_desc")
    if sort not in coverage_service.SORTS:
        sort = "population_desc"
    page = RowPage(
        coverage_service.unreached_query(view.cycle, view.scope, **view.territory, sort=sort),
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
        coverage=view.coverage(),
        page=page,
        regions=regions,
        provinces=provinces,
    )


# --- exports ---------------------------------------------------------------------------


def _rate(value: float | None) -> Percent | None:
    return Percent(value) if value is not None else None


def _figure_cells(figures: facts.Figures) -> list[Any]:
    return [
        figures.enrolled,
        figures.active,
        figures.enrolments,
        figures.completions,
        _rate(figures.completion_rate),
        figures.attempts,
        _rate(figures.pass_rate),
    ]


def _figure_headers() -> list[str]:
    return [
        f"{header} (%)" if n in RATE_COLUMNS else str(header)
        for n, header in enumerate(FIGURE_HEADERS)
    ]


def _table(view: View, name: str) -> tuple[str, list[str], Iterable[Sequence[Any]]]:
    """(title, headers, rows) of an exportable table: the same View, hence the same
    selection, as the page it is linked from."""
    if name == "territori":
        headers = [str(LEVEL_LABELS[view.level]), _("Codice"), *_figure_headers()]
        rows = ([r.name, r.key, *_figure_cells(r.figures)] for r in view.report())
        return _("Territori"), headers, rows
    if name == "corsi":
        headers = [_("Corso"), _("Codice"), *_figure_headers()]
        rows = ([r.name, r.key, *_figure_cells(r.figures)] for r in view.report("course"))
        return _("Corsi"), headers, rows
    if name == "mesi":
        return (
            _("Mesi"),
            [_("Mese"), _("Corsi completati")],
            ([Month(m.first_day, month_label(m)), m.completions] for m in view.months()),
        )
    if name == "copertura":
        query = coverage_service.unreached_query(view.cycle, view.scope, **view.territory)
        headers = [_("Comune"), _("Codice ISTAT"), _("Provincia"), _("Regione"), _("Abitanti")]

        def rows() -> Iterable[Sequence[Any]]:
            # Runs while the response streams, after the view's session has been closed:
            # the query starts here, not in the view.
            for c, p, r in db.session.execute(query.execution_options(yield_per=2000)):
                yield [c.name, c.istat_code, p.abbreviation, r.name, c.population]

        return _("Comuni non raggiunti"), headers, rows()
    if name == "operatori":
        headers = [
            _("Nome"),
            _("Email"),
            _("Comune"),
            _("Provincia"),
            _("Regione"),
            _("Corso"),
            _("Moduli completati"),
            _("Miglior punteggio (%)"),
            _("Data di completamento (ora di Roma)"),
        ]
        rows = (
            [_rate(row[c]) if c == "best_score" else row[c] for c in detail.DETAIL_COLUMNS]
            for row in view.operators()
        )
        return _("Operatori"), headers, rows
    abort(404)


@bp.get("/esporta/<name>.<fmt>")
@roles_required("coordinator", "admin")
def export(name: str, fmt: str) -> Response:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    view = request_view()
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
            "comune": view.comune.istat_code if view.comune else None,
            "course": view.course.slug if view.course else None,
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

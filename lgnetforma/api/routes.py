"""The /api/v1 views: parse the request, call the services, answer JSON.

Authentication is by personal access token only (``Authorization: Bearer lgf_…``): the
session cookie is never looked at, so a browser logged in to the site still gets 401 here.
Every figure comes from ``lgnetforma.services.reporting`` (figures, coverage), with the
caller's Scope.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from lgnetforma import throttle
from lgnetforma.api.errors import BEARER_CHALLENGE, ApiError, bad_parameter, error_response
from lgnetforma.api.openapi import (
    MAX_USER_ID,
    Param,
    build_document,
    completion_params,
    comuni_params,
    courses_params,
    coverage_params,
    progress_params,
    record_params,
    sessions_params,
)
from lgnetforma.database import LIKE_ESCAPE, like_pattern
from lgnetforma.extensions import csrf, db
from lgnetforma.models import Comune, Cycle, Province, Region, Role, User, utcnow
from lgnetforma.services.catalogue.listing import catalogue
from lgnetforma.services.coordination.scope import (
    Scope,
    Selection,
    SelectionError,
    resolve_selection,
)
from lgnetforma.services.learning.progress import my_courses
from lgnetforma.services.people.tokens import authenticate_token
from lgnetforma.services.platform.audit import record
from lgnetforma.services.platform.cycles import current_cycle, cycle_by_code, eligible_condition
from lgnetforma.services.reporting import coverage as coverage_service
from lgnetforma.services.reporting import facts, figures
from lgnetforma.throttle import Budget

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # tokens, not cookies: there is nothing for a cross-site form to ride on

PUBLIC_ENDPOINTS = {"api.openapi"}
REPORT_ROLES = (Role.COORDINATOR, Role.ADMIN)
# What an HTTP error may say in its headers; its HTML content type is not kept.
KEPT_HEADERS = {"allow", "retry-after", "www-authenticate"}


# --- errors and authentication ---------------------------------------------------------


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    return error.response()


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    headers = {k: v for k, v in error.get_headers() if k.lower() in KEPT_HEADERS}
    return error_response(error.code or 500, None, headers)


@bp.before_app_request
def _routing_errors() -> Response | None:
    """404 and 405 under /api/v1 with the API's own message (and the Allow header).

    A request that matches no API route belongs to no blueprint, so the blueprint's own
    error handlers never see it.
    """
    if not request.path.startswith(bp.url_prefix + "/"):  # type: ignore[operator]
        return None
    error = request.routing_exception
    if isinstance(error, MethodNotAllowed):
        return error_response(405, None, {"Allow": ", ".join(sorted(error.valid_methods or []))})
    if isinstance(error, NotFound):
        return error_response(404)
    return None


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "").strip()
    if not header:
        raise ApiError(401)
    scheme, _sep, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise ApiError(
            401,
            _("Intestazione Authorization non valida: usa 'Authorization: Bearer <token>'."),
            {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_request"'},
        )
    # Failed tokens are counted per address: past the budget, the token is not even looked
    # up. A valid token has its own budget, so one script cannot starve the others.
    ip = request.remote_addr or "unknown"
    failures = Budget("API_AUTH_FAILURE_LIMIT_PER_IP", (ip,))
    if throttle.exceeded([failures]):
        _note_rate_limit(ip, "auth")
        raise _too_many(failures)
    user = authenticate_token(credentials.strip())
    if user is None:
        throttle.spend([failures])
        raise ApiError(
            401,
            _("Token non valido o revocato, oppure l'account non è più attivo."),
            {"WWW-Authenticate": f'{BEARER_CHALLENGE}, error="invalid_token"'},
        )
    per_token = Budget("API_LIMIT_PER_TOKEN", (throttle.digest(credentials.strip()),))
    if throttle.exceeded([per_token]):
        db.session.rollback()
        _note_rate_limit(ip, "token", user)
        raise _too_many(per_token)
    throttle.spend([per_token])
    if db.session.dirty:  # last_used_at moved on
        db.session.commit()
    g.api_user = user


def _too_many(budget: Budget) -> ApiError:
    return ApiError(429, None, {"Retry-After": str(throttle.retry_after(budget))})


def _note_rate_limit(ip: str, kind: str, user: User | None = None) -> None:
    """A flood goes in the audit trail once a minute per address, not once per request."""
    if throttle.once_per_minute("api", kind, ip):
        record("rate_limited", actor=user, ip=ip, details={"form": "api", "limit": kind})
        db.session.commit()


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


def _caller() -> User:
    return g.api_user


def _coordinator_scope() -> Scope:
    user = _caller()
    if not user.has_role(*REPORT_ROLES):
        raise ApiError(403, _("I rapporti sono riservati ai coordinatori e agli amministratori."))
    return Scope.of(user)


# --- request parsing -------------------------------------------------------------------


def _query(params: tuple[Param, ...]) -> dict[str, Any]:
    """The query string parsed with the same definitions the OpenAPI document shows."""
    known = {p.name: p for p in params}
    for name in request.args:
        if name not in known:
            allowed = ", ".join(known) or _("nessuno")
            raise bad_parameter(name, _("parametro sconosciuto (ammessi: %(a)s)", a=allowed))
    values: dict[str, Any] = {}
    for name, param in known.items():
        raw = request.args.getlist(name)
        if len(raw) > 1:
            raise bad_parameter(name, _("indicato più di una volta"))
        if not raw:
            values[name] = param.default
            continue
        try:
            values[name] = param.parse(raw[0])
        except ValueError as error:
            raise bad_parameter(name, str(error)) from error
    return values


def _cycle(code: str | None) -> Cycle:
    if code is None:
        return current_cycle()
    cycle = cycle_by_code(code)
    if cycle is None:
        raise ApiError(404, _("cycle: nessun ciclo formativo %(code)s.", code=code))
    return cycle


def _selection(scope: Scope, cycle: Cycle | None = None, **codes: str | None) -> Selection:
    """The selection asked for (see ``resolve_selection``), or the API's 404 saying why."""
    try:
        return resolve_selection(scope, cycle_id=cycle.id if cycle else None, **codes)
    except SelectionError as error:
        raise ApiError(404, str(error.message)) from error


def _selection_dict(selection: Selection, *, course: bool = True) -> dict[str, str | None]:
    answer = {
        "region": selection.region.code if selection.region else None,
        "province": selection.province.code if selection.province else None,
        "comune": selection.comune.istat_code if selection.comune else None,
    }
    if course:
        answer["course"] = selection.course.slug if selection.course else None
    return answer


def _scope_dict(scope: Scope) -> dict[str, str | None]:
    region = db.session.get(Region, scope.region_id) if scope.region_id else None
    comune = db.session.get(Comune, scope.comune_id) if scope.comune_id else None
    if comune is not None:
        region = comune.region
    return {
        "kind": scope.kind,
        "region": region.code if region else None,
        "comune": comune.istat_code if comune else None,
    }


# --- documentation ---------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    response = jsonify(build_document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


# --- catalogue -------------------------------------------------------------------------


@bp.get("/courses")
def courses() -> Response:
    _query(courses_params())
    cycle = current_cycle()
    return jsonify(
        {
            "cycle": cycle.code,
            "courses": [
                {
                    "slug": entry.course.slug,
                    "title": entry.version.title,
                    "summary": entry.version.summary or "",
                    "area": entry.version.area,
                    "hours": entry.version.hours,
                    "modules": entry.modules,
                    "minutes": entry.minutes,
                }
                for entry in catalogue(cycle)
            ],
        }
    )


def _visible_scope(user: User) -> Scope:
    """Coordinators see the comuni of their scope; the registry is public to everyone else."""
    if user.role == Role.COORDINATOR:
        return Scope.of(user)
    return Scope("national")


@bp.get("/comuni")
def comuni() -> Response:
    args = _query(comuni_params())
    cycle = _cycle(args["cycle"])
    scope = _visible_scope(_caller())
    selection = _selection(scope, region=args["region"], province=args["province"])
    conditions: list[Any] = [selection.comune_condition()]
    if args["eligible"] is True:
        conditions.append(eligible_condition(cycle))
    elif args["eligible"] is False:
        conditions.append(~eligible_condition(cycle) | Comune.population.is_(None))
    if args["q"] is not None:
        conditions.append(
            Comune.name.ilike(like_pattern(args["q"], anywhere=False), escape=LIKE_ESCAPE)
        )
    total = db.session.scalar(select(func.count(Comune.id)).where(*conditions)) or 0
    page, per_page = args["page"], args["per_page"]
    rows = db.session.execute(
        select(Comune, Province, Region)
        .join(Province, Province.id == Comune.province_id)
        .join(Region, Region.id == Comune.region_id)
        .where(*conditions)
        .order_by(Comune.name, Comune.istat_code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    threshold = cycle.population_threshold
    return jsonify(
        {
            "cycle": cycle.code,
            "total": total,
            "page": page,
            "per_page": per_page,
            "items": [
                {
                    "istat_code": comune.istat_code,
                    "name": comune.name,
                    "province": {
                        "code": province.code,
                        "abbreviation": province.abbreviation,
                        "name": province.name,
                    },
                    "region": {"code": region.code, "name": region.name},
                    "population": comune.population,
                    "eligible": comune.is_eligible(threshold),
                }
                for comune, province, region in rows
            ],
        }
    )


# --- reports ---------------------------------------------------------------------------


@bp.get("/reports/completion")
def completion_report() -> Response:
    scope = _coordinator_scope()
    args = _query(completion_params())
    cycle = _cycle(args["cycle"])
    selection = _selection(
        scope,
        cycle,
        region=args["region"],
        province=args["province"],
        comune=args["comune"],
        course=args["course"],
    )
    group_by: facts.GroupBy = args["group_by"]
    where = {**selection.filters, "course_id": selection.course_id}
    rows = figures.completion_report(cycle, scope, group_by, **where)
    return jsonify(
        {
            "cycle": cycle.code,
            "group_by": group_by,
            "scope": _scope_dict(scope),
            **_selection_dict(selection),
            "summary": figures.summary(cycle, scope, **where).as_dict(),
            "rows": [row.as_dict() for row in rows],
        }
    )


@bp.get("/reports/coverage")
def coverage_report() -> Response:
    scope = _coordinator_scope()
    args = _query(coverage_params())
    cycle = _cycle(args["cycle"])
    selection = _selection(
        scope, cycle, region=args["region"], province=args["province"], comune=args["comune"]
    )
    coverage = coverage_service.coverage(cycle, scope, **selection.filters)
    return jsonify(
        {
            "cycle": cycle.code,
            "scope": _scope_dict(scope),
            **_selection_dict(selection, course=False),
            "coverage": coverage.as_dict(),
        }
    )


# --- one operator ----------------------------------------------------------------------


def _visible_operator(caller: User, user_id: int) -> User:
    """The operator, if the caller is them or covers their comune; otherwise 404."""
    not_found = ApiError(404, _("Nessun operatore %(id)d tra quelli che puoi vedere.", id=user_id))
    operator = db.session.get(User, user_id)
    if operator is None or operator.role != Role.OPERATOR or operator.deleted_at is not None:
        raise not_found
    if operator.id == caller.id:
        return operator
    if caller.has_role(*REPORT_ROLES) and Scope.of(caller).includes(operator.comune):
        return operator
    raise not_found


@bp.get(f"/operators/<int(min=1, max={MAX_USER_ID}):user_id>/progress")
def operator_progress(user_id: int) -> Response:
    args = _query(progress_params())
    cycle = _cycle(args["cycle"])
    operator = _visible_operator(_caller(), user_id)
    comune = operator.comune
    return jsonify(
        {
            "user": {
                "id": operator.id,
                "full_name": operator.full_name,
                "comune": {"istat_code": comune.istat_code, "name": comune.name}
                if comune
                else None,
            },
            "cycle": cycle.code,
            "courses": [
                {
                    "slug": progress.enrolment.course.slug,
                    "title": progress.enrolment.course.current_version.title,
                    "modules_done": progress.modules_done,
                    "modules_total": progress.modules_total,
                    "quizzes_passed": progress.quizzes_passed,
                    "quizzes_total": progress.quizzes_total,
                    "hours": progress.hours,
                    "completed_at": progress.completion.completed_at.isoformat()
                    if progress.completion
                    else None,
                }
                for progress in my_courses(operator, cycle)
            ],
        }
    )


# --- live sessions and the training record ---------------------------------------------


@bp.get("/sessions")
def sessions() -> Response:
    from lgnetforma.services.sessions.figures import session_figures

    scope = _coordinator_scope()
    args = _query(sessions_params())
    cycle = _cycle(args["cycle"])
    report = session_figures(cycle, scope)
    return jsonify(
        {
            "cycle": cycle.code,
            "scope": _scope_dict(scope),
            "summary": report.summary.as_dict(),
            "regions": [region.as_dict() for region in report.regions],
            "sessions": [row.as_dict() for row in report.rows],
        }
    )


@bp.get(f"/operators/<int(min=1, max={MAX_USER_ID}):user_id>/record")
def operator_record(user_id: int) -> Response:
    from lgnetforma.services.learning.record import training_record
    from lgnetforma.services.sessions.rules import rome

    args = _query(record_params())
    operator = _visible_operator(_caller(), user_id)
    year = args["year"] or rome(utcnow()).year
    record = training_record(operator)
    items = record.of_year(year)
    comune = operator.comune
    return jsonify(
        {
            "user": {
                "id": operator.id,
                "full_name": operator.full_name,
                "comune": {"istat_code": comune.istat_code, "name": comune.name}
                if comune
                else None,
            },
            "year": year,
            "goal_hours": record.goal,
            "total_hours": record.total(items),
            "items": [item.as_dict() for item in items],
            "cycles": {code: record.total(record.of_cycle(code)) for code in record.cycles()},
        }
    )

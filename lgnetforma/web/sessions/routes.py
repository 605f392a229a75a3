"""Views of live sessions: list, detail, registration, invitation, organising,
attendance (register page and report import), the personal training record and the
coordinators' figures."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select, true
from wtforms import SelectChoice

from lgnetforma.extensions import db
from lgnetforma.models import (
    LiveSession,
    Region,
    RegistrationStatus,
    Role,
    SessionRegistration,
    User,
    utcnow,
)
from lgnetforma.services.catalogue.listing import catalogue
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning import record as training_record
from lgnetforma.services.platform.audit import scope_territory
from lgnetforma.services.platform.cycles import (
    all_cycles,
    current_cycle,
    cycle_by_code,
    reporting_cycle,
)
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting.exports import csv_lines
from lgnetforma.services.sessions import attendance as attendance_import
from lgnetforma.services.sessions import figures as figures_service
from lgnetforma.services.sessions import organise, roll_call, rules
from lgnetforma.services.sessions import registration as registration_service
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit
from lgnetforma.web.sessions.forms import (
    ActionForm,
    AttendanceConfirmForm,
    AttendanceImportForm,
    SessionForm,
)

bp = Blueprint("sessions", __name__)

ORGANISERS = ("trainer", "coordinator", "admin")


def _me() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def _session(session_id: int) -> LiveSession:
    """The session if the user may see it; 404 otherwise (existence is not revealed)."""
    session = db.session.get(LiveSession, session_id)
    if session is None or not rules.may_see(session, _me()):
        abort(404)
    return session


def _managed(session_id: int) -> LiveSession:
    session = db.session.get(LiveSession, session_id)
    if session is None or not rules.may_manage(session, _me()):
        abort(404)
    return session


def _where(session: LiveSession) -> dict[str, int | None]:
    return {"comune_id": session.comune_id, "region_id": session.region_id}


# --- everyone --------------------------------------------------------------------------


@bp.get("/incontri/")
@login_required
def index() -> str:
    me = _me()
    now = utcnow()
    sessions = list(
        db.session.scalars(
            select(LiveSession)
            .where(rules.visible_condition(me))
            .where(LiveSession.ends_at >= now if me.role == Role.OPERATOR else true())
            .order_by(LiveSession.starts_at, LiveSession.id)
            .limit(500)
        )
    )
    mine = {
        r.session_id: r
        for r in db.session.scalars(
            select(SessionRegistration).where(
                SessionRegistration.user_id == me.id,
                SessionRegistration.status != RegistrationStatus.CANCELLED,
            )
        )
    }
    return render_template(
        "sessions/index.html",
        sessions=sessions,
        mine=mine,
        kinds=rules.KINDS,
        may_organise=me.role in ORGANISERS,
        now=now,
    )


@bp.get("/incontri/<int:session_id>")
@login_required
def detail(session_id: int) -> str:
    session = _session(session_id)
    me = _me()
    registration = registration_service.registration_of(session, me)
    registered = registration is not None and registration.status == RegistrationStatus.REGISTERED
    manager = rules.may_manage(session, me)
    return render_template(
        "sessions/detail.html",
        session=session,
        registration=registration,
        registered=registered,
        position=registration_service.waiting_position(registration)
        if registration is not None and registration.status == RegistrationStatus.WAITING
        else None,
        manager=manager,
        may_register=rules.open_to(session, me)
        and not session.is_cancelled
        and session.starts_at > utcnow(),
        places_left=registration_service.places_left(session),
        waiting=len(roll_call.waiting_people(session)) if manager else None,
        kinds=rules.KINDS,
        form=ActionForm(),
        started=session.starts_at <= utcnow(),
    )


@bp.post("/incontri/<int:session_id>/iscrizione")
@roles_required("operator")
def register(session_id: int) -> Response:
    session = _session(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        registration = registration_service.register(session, _me())
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("sessions.detail", session_id=session_id))
    audit(
        "session.registered",
        object_type="live_session",
        object_id=session.id,
        comune_id=registration.comune_id,
        details={"status": registration.status},
    )
    db.session.commit()
    if registration.status == RegistrationStatus.WAITING:
        flash(_("L'incontro è al completo: sei in lista d'attesa."), "warning")
    else:
        flash(_("Sei iscritto. Ti abbiamo inviato l'invito per il calendario."), "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.post("/incontri/<int:session_id>/rinuncia")
@roles_required("operator")
def unregister(session_id: int) -> Response:
    session = _session(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    registration = registration_service.registration_of(session, _me())
    if registration is None or registration.status == RegistrationStatus.CANCELLED:
        abort(404)
    try:
        promoted = registration_service.cancel_registration(registration)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("sessions.detail", session_id=session_id))
    audit(
        "session.unregistered",
        object_type="live_session",
        object_id=session.id,
        comune_id=registration.comune_id,
        details={"promoted": promoted.user_id if promoted else None},
    )
    db.session.commit()
    flash(_("Hai rinunciato al posto."), "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


@bp.get("/incontri/<int:session_id>/invito.ics")
@login_required
def invitation(session_id: int) -> Response:
    session = _session(session_id)
    me = _me()
    registration = registration_service.registration_of(session, me)
    registered = registration is not None and registration.status == RegistrationStatus.REGISTERED
    if not registered and not rules.may_manage(session, me):
        abort(404)
    return Response(
        registration_service.ics(session, with_access=True),
        mimetype="text/calendar",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{registration_service.ics_filename(session)}"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


# --- organising ------------------------------------------------------------------------


def _session_form(obj: LiveSession | None = None) -> SessionForm:
    me = _me()
    form = SessionForm()
    regions = list(db.session.scalars(select(Region).order_by(Region.name)))
    choices: list[SelectChoice] = []
    if me.role != Role.COORDINATOR or Scope.of(me).kind == "national":
        choices.append(SelectChoice("", _("Tutta Italia")))
        choices += [SelectChoice(r.code, r.name) for r in regions]
    else:
        scope = Scope.of(me)
        if scope.kind == "comune":
            choices.append(SelectChoice("", _("Il mio comune (indicalo sotto)")))
        else:
            choices += [SelectChoice(r.code, r.name) for r in regions if r.id == scope.region_id]
    form.region_code.choices = choices
    form.course_slug.choices = [SelectChoice("", _("Nessuno"))] + [
        SelectChoice(entry.course.slug, entry.version.title) for entry in catalogue(current_cycle())
    ]
    if obj is not None and not form.is_submitted():
        form.title.data = obj.title
        form.description.data = obj.description
        form.kind.data = obj.kind
        form.starts_at.data = rules.rome(obj.starts_at).replace(tzinfo=None)
        form.ends_at.data = rules.rome(obj.ends_at).replace(tzinfo=None)
        form.place.data = obj.place
        form.link.data = obj.link
        form.capacity.data = obj.capacity
        form.region_code.data = obj.region.code if obj.region else ""
        form.comune_code.data = obj.comune.istat_code if obj.comune else ""
        form.course_slug.data = obj.course.slug if obj.course else ""
        form.min_attendance.data = obj.min_attendance
        form.hours.data = obj.hours
    return form


def _input(form: SessionForm) -> organise.SessionInput:
    return organise.SessionInput(
        title=form.title.data or "",
        description=form.description.data or "",
        kind=form.kind.data,
        starts_at=form.starts_at.data,
        ends_at=form.ends_at.data,
        place=form.place.data or "",
        link=form.link.data or "",
        capacity=form.capacity.data,
        region_code=form.region_code.data or "",
        comune_code=form.comune_code.data or "",
        course_slug=form.course_slug.data or "",
        min_attendance=form.min_attendance.data,
        hours=float(form.hours.data) if form.hours.data is not None else None,
    )


@bp.route("/incontri/nuovo", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def new() -> str | Response | tuple[str, int]:
    form = _session_form()
    if form.validate_on_submit():
        try:
            session = organise.create_session(_input(form), _me(), current_cycle())
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "title").errors.append(str(error))
        else:
            audit(
                "session.created",
                object_type="live_session",
                object_id=session.id,
                details={"title": session.title, "capacity": session.capacity},
                **_where(session),
            )
            db.session.commit()
            flash(_("Incontro creato."), "success")
            return redirect(url_for("sessions.detail", session_id=session.id))
    status = 400 if form.is_submitted() else 200
    return render_template("sessions/form.html", form=form, session=None), status


@bp.route("/incontri/<int:session_id>/modifica", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def edit(session_id: int) -> str | Response | tuple[str, int]:
    session = _managed(session_id)
    form = _session_form(session)
    if form.validate_on_submit():
        try:
            moved = organise.update_session(session, _input(form), _me())
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "title").errors.append(str(error))
        else:
            audit(
                "session.updated",
                object_type="live_session",
                object_id=session.id,
                details={"moved": moved},
                **_where(session),
            )
            db.session.commit()
            flash(
                _("Incontro modificato: gli iscritti sono stati avvisati.")
                if moved
                else _("Incontro modificato."),
                "success",
            )
            return redirect(url_for("sessions.detail", session_id=session.id))
    status = 400 if form.is_submitted() else 200
    return render_template("sessions/form.html", form=form, session=session), status


@bp.post("/incontri/<int:session_id>/annullamento")
@roles_required(*ORGANISERS)
def cancel(session_id: int) -> Response:
    session = _managed(session_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        told = organise.cancel_session(session)
    except ServiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return redirect(url_for("sessions.detail", session_id=session_id))
    audit(
        "session.cancelled",
        object_type="live_session",
        object_id=session.id,
        details={"told": told},
        **_where(session),
    )
    db.session.commit()
    flash(_("Incontro annullato: iscritti e lista d'attesa sono stati avvisati."), "success")
    return redirect(url_for("sessions.detail", session_id=session_id))


# --- attendance ------------------------------------------------------------------------


def _attendance_page(
    session: LiveSession, import_form: AttendanceImportForm | None = None, status: int = 200
) -> tuple[str, int]:
    query = request.args.get("q", "")[:100]
    return render_template(
        "sessions/attendance.html",
        session=session,
        people=roll_call.registered_people(session, query),
        query=query,
        form=ActionForm(),
        import_form=import_form or AttendanceImportForm(formdata=None),
        layouts=attendance_import.LAYOUTS,
        started=session.starts_at <= utcnow(),
    ), status


@bp.route("/incontri/<int:session_id>/presenze", methods=["GET", "POST"])
@roles_required(*ORGANISERS)
def attendance(session_id: int) -> tuple[str, int] | Response:
    session = _managed(session_id)
    if request.method == "GET":
        return _attendance_page(session)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        roll_call.ensure_may_record(session)
    except ServiceError as error:
        flash(str(error), "danger")
        return redirect(url_for("sessions.attendance", session_id=session_id))
    shown = set(request.form.getlist("shown", type=int))
    present = set(request.form.getlist("present", type=int))
    changed = 0
    for registration in roll_call.registered_people(session):
        if registration.id not in shown:
            continue
        minutes = session.minutes if registration.id in present else 0
        if registration.attended_minutes != minutes:
            roll_call.record_attendance(registration, minutes, "register")
            changed += 1
    audit(
        "session.attendance",
        object_type="live_session",
        object_id=session.id,
        details={"source": "register", "changed": changed},
        **_where(session),
    )
    db.session.commit()
    flash(_("Presenze salvate (%(n)s modificate).", n=changed), "success")
    return redirect(url_for("sessions.attendance", session_id=session_id))


@bp.post("/incontri/<int:session_id>/presenze/importazione")
@roles_required(*ORGANISERS)
def attendance_import_preview(session_id: int) -> tuple[str, int]:
    session = _managed(session_id)
    form = AttendanceImportForm()
    if not form.validate_on_submit():
        return _attendance_page(session, form, 400)
    try:
        roll_call.ensure_may_record(session)
        text = attendance_import.decode(form.file.data.read(attendance_import.MAX_BYTES + 1))
        preview = attendance_import.preview(session, text)
    except ServiceError as error:
        form.file.errors = [*form.file.errors, str(error)]
        return _attendance_page(session, form, 400)
    return render_template(
        "sessions/import_preview.html",
        session=session,
        preview=preview,
        form=AttendanceConfirmForm(formdata=None, csv_text=text),
        filename=form.file.data.filename,
    ), 200


@bp.post("/incontri/<int:session_id>/presenze/conferma")
@roles_required(*ORGANISERS)
def attendance_import_confirm(session_id: int) -> Response | tuple[str, int]:
    session = _managed(session_id)
    form = AttendanceConfirmForm()
    if not form.validate_on_submit():
        upload = AttendanceImportForm(formdata=None)
        upload.file.errors = [_("Carica il file e controlla l'anteprima prima di confermare.")]
        return _attendance_page(session, upload, 400)
    try:
        roll_call.ensure_may_record(session)
        preview = attendance_import.preview(session, form.csv_text.data)
    except ServiceError as error:
        upload = AttendanceImportForm(formdata=None)
        upload.file.errors = [str(error)]
        return _attendance_page(session, upload, 400)
    source = f"import:{preview.layout}"
    for row in preview.good:
        roll_call.record_attendance(row.registration, row.minutes, source)
    for registration in preview.missing:
        roll_call.record_attendance(registration, 0, source)
    audit(
        "session.attendance",
        object_type="live_session",
        object_id=session.id,
        details={
            "source": source,
            "present": len(preview.good),
            "credited": preview.credited,
            "absent": len(preview.missing),
            "rejected": len(preview.bad),
        },
        **_where(session),
    )
    db.session.commit()
    flash(
        _(
            "Presenze importate: %(present)s presenti, di cui %(credited)s con le ore "
            "riconosciute; %(absent)s assenti.",
            present=len(preview.good),
            credited=preview.credited,
            absent=len(preview.missing),
        ),
        "success",
    )
    return redirect(url_for("sessions.attendance", session_id=session_id))


@bp.get("/incontri/<int:session_id>/presenze/modello.csv")
@roles_required(*ORGANISERS)
def attendance_template(session_id: int) -> Response:
    session = _managed(session_id)
    return Response(
        attendance_import.template_csv(session),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="presenze-{session.id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


# --- the personal training record ------------------------------------------------------


def _year(record: training_record.TrainingRecord) -> int:
    raw = request.args.get("anno", "")
    if raw:
        if not raw.isdigit() or not 2000 <= int(raw) <= 2100:
            abort(404)
        return int(raw)
    return rules.rome(utcnow()).year


@bp.get("/formazione")
@login_required
def record() -> str:
    me = _me()
    data = training_record.training_record(me)
    year = _year(data)
    years = sorted({*data.years(), rules.rome(utcnow()).year, year}, reverse=True)
    items = data.of_year(year)
    return render_template(
        "sessions/record.html",
        record=data,
        year=year,
        years=years,
        items=items,
        total=data.total(items),
        share=data.goal_share(year),
        cycles=[(code, data.total(data.of_cycle(code))) for code in data.cycles()],
    )


@bp.get("/formazione/dichiarazione.pdf")
@login_required
def statement() -> Response:
    from lgnetforma.web.certificates import verify_url

    me = _me()
    year = _year(training_record.training_record(me))
    document, created = training_record.issue_statement(me, year)
    audit(
        "training_statement.downloaded",
        object_type="training_statement",
        object_id=document.code,
        comune_id=me.comune_id,
        details={"year": year, "hours": document.total_hours, "new": created},
    )
    db.session.commit()
    pdf = training_record.render_statement_pdf(document, verify_url(document.code))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="{training_record.statement_filename(document)}"'
            ),
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/formazione/registro.csv")
@login_required
def record_csv() -> Response:
    me = _me()
    data = training_record.training_record(me)
    year = _year(data)
    return Response(
        training_record.record_csv(data.of_year(year)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="formazione-{year}.csv"',
            "Cache-Control": "private, no-store",
        },
    )


# --- coordinators' figures -------------------------------------------------------------


def _figures_cycle():  # noqa: ANN202
    code = request.args.get("ciclo")
    if code:
        cycle = cycle_by_code(code)
        if cycle is None:
            abort(404)
        return cycle
    return reporting_cycle()


@bp.get("/coordinamento/incontri")
@roles_required("coordinator", "admin")
def figures() -> str:
    cycle = _figures_cycle()
    report = figures_service.session_figures(cycle, Scope.of(_me()))
    return render_template(
        "sessions/figures.html",
        cycle=cycle,
        cycles=all_cycles(),
        summary=report.summary,
        rows=report.rows,
        regions=report.regions,
        kinds=rules.KINDS,
    )


@bp.get("/coordinamento/incontri.csv")
@roles_required("coordinator", "admin")
def figures_export() -> Response:
    cycle = _figures_cycle()
    scope = Scope.of(_me())
    report = figures_service.session_figures(cycle, scope)
    by_region = request.args.get("per") == "regione"
    if by_region:
        name, headers = "incontri-regioni", figures_service.REGION_EXPORT_COLUMNS
        rows = figures_service.region_export_rows(report.regions)
    else:
        name, headers = "incontri", figures_service.SESSION_EXPORT_COLUMNS
        rows = figures_service.export_rows(report.rows)
    audit(
        "export",
        details={"table": name, "format": "csv", "cycle": cycle.code, "rows": len(rows)},
        **scope_territory(scope),
    )
    db.session.commit()
    return Response(
        "".join(csv_lines(headers, rows)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="lgnetforma-{name}-{cycle.code}.csv"',
            "Cache-Control": "private, no-store",
        },
    )

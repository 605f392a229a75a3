"""Bulk enrolment pages: upload a CSV, see what it would do, confirm.

Confirming is stateless: the preview page carries the file's text in a hidden field and
the confirmation checks it again, so any app server can take either request.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Comune
from lgnetforma.services.catalogue.listing import catalogue
from lgnetforma.services.coordination import bulk_apply, bulk_check, bulk_read
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.audit import scope_territory
from lgnetforma.services.platform.cycles import current_cycle, eligible_condition
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.access import roles_required
from lgnetforma.web.audit import audit
from lgnetforma.web.coordinate.forms import BulkConfirmForm, BulkUploadForm
from lgnetforma.web.coordinate.routes import bp


def _upload_page(form: BulkUploadForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "coordinate/bulk.html",
        form=form,
        max_rows=bulk_read.MAX_ROWS,
        courses=catalogue(current_cycle()),
    ), status


@bp.route("/iscrizioni-massive", methods=["GET", "POST"])
@roles_required("coordinator", "admin")
def bulk_upload() -> tuple[str, int]:
    form = BulkUploadForm()
    if not form.validate_on_submit():
        return _upload_page(form, 400 if form.is_submitted() else 200)
    upload = form.file.data
    try:
        text = bulk_read.decode_upload(upload.read(bulk_read.MAX_BYTES + 1))
        preview = bulk_check.preview(text, scope=Scope.of(current_user), cycle=current_cycle())
    except ServiceError as error:
        form.file.errors = [*form.file.errors, str(error)]
        return _upload_page(form, 400)
    confirm_form = BulkConfirmForm(formdata=None, csv_text=text, filename=upload.filename or "")
    return render_template(
        "coordinate/bulk_preview.html",
        preview=preview,
        form=confirm_form,
        filename=upload.filename,
    ), 200


@bp.post("/iscrizioni-massive/conferma")
@roles_required("coordinator", "admin")
def bulk_confirm() -> Response | tuple[str, int]:
    form = BulkConfirmForm()
    upload_form = BulkUploadForm(formdata=None)
    if not form.validate_on_submit():
        upload_form.file.errors = [_("Carica il file e controlla l'anteprima prima di confermare.")]
        return _upload_page(upload_form, 400)
    try:
        result = bulk_apply.confirm(
            form.csv_text.data,
            scope=Scope.of(current_user),
            cycle=current_cycle(),
            actor=current_user._get_current_object(),  # type: ignore[attr-defined]
            filename=form.filename.data or "iscrizioni.csv",
        )
    except ServiceError as error:
        upload_form.file.errors = [str(error)]
        return _upload_page(upload_form, 400)
    audit(
        "bulk_enrolment.confirmed",
        object_type="bulk_upload",
        object_id=result.upload_id,
        details={
            "filename": form.filename.data or "iscrizioni.csv",
            "rows": result.rows_total,
            "rejected": result.rows_rejected,
            "accounts_created": result.accounts_created,
            "enrolments_created": result.enrolments_created,
        },
        **scope_territory(Scope.of(current_user)),
    )
    db.session.commit()
    counts = {
        "accounts": ngettext(
            "%(num)d account creato", "%(num)d account creati", result.accounts_created
        ),
        "enrolments": ngettext(
            "%(num)d iscrizione creata", "%(num)d iscrizioni create", result.enrolments_created
        ),
        "existing_accounts": ngettext(
            "%(num)d account già presente",
            "%(num)d account già presenti",
            result.accounts_existing,
        ),
        "existing_enrolments": ngettext(
            "%(num)d iscrizione già presente",
            "%(num)d iscrizioni già presenti",
            result.enrolments_existing,
        ),
        "rejected": ngettext(
            "%(num)d riga scartata", "%(num)d righe scartate", result.rows_rejected
        ),
    }
    flash(
        _(
            "Iscrizione massiva completata: %(accounts)s e %(enrolments)s; "
            "%(existing_accounts)s e %(existing_enrolments)s; %(rejected)s.",
            **counts,
        ),
        "success",
    )
    if result.mails_queued:
        flash(
            ngettext(
                "%(num)s invito per scegliere la password è in coda: partirà nei prossimi minuti.",
                "%(num)s inviti per scegliere la password sono in coda: partiranno nei "
                "prossimi minuti.",
                result.mails_queued,
            ),
            "info",
        )
    return redirect(url_for("coordinate.bulk_upload"))


@bp.get("/iscrizioni-massive/esempio.csv")
@roles_required("coordinator", "admin")
def bulk_example() -> Response:
    """A small file in the expected format, with comuni of the coordinator's territory."""
    cycle = current_cycle()
    comuni = list(
        db.session.scalars(
            select(Comune)
            .where(Scope.of(current_user).comune_condition(), eligible_condition(cycle))
            .order_by(Comune.population.desc())
            .limit(2)
        )
    )
    slugs = [entry.course.slug for entry in catalogue(cycle)]
    return Response(
        bulk_apply.example_csv(comuni, slugs),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="iscrizioni-esempio.csv"',
            "Cache-Control": "private, no-store",
        },
    )

"""Attestati: download by the holder (or a coordinator in scope) and public verification."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Certificate, Comune, CourseCompletion
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.learning.certificates import (
    certificate_by_code,
    issue_certificate,
    pdf_filename,
    render_pdf,
)
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.web.audit import audit

bp = Blueprint("certificates", __name__)


def verify_url(code: str) -> str:
    """The public verification address printed in the QR code."""
    return absolute_url("certificates.verify", code=code)


def may_download(completion: CourseCompletion) -> bool:
    if completion.user_id == current_user.id:
        return True
    if current_user.has_role("coordinator", "admin"):
        comune = db.session.get(Comune, completion.comune_id) if completion.comune_id else None
        return Scope.of(current_user).includes(comune)
    return False


@bp.get("/attestati/<int:completion_id>.pdf")
@login_required
def download(completion_id: int) -> Response:
    completion = db.session.get(CourseCompletion, completion_id)
    if completion is None or not may_download(completion):
        abort(404)
    issued_before = db.session.scalar(
        select(Certificate.id).where(Certificate.completion_id == completion.id)
    )
    certificate = issue_certificate(completion)
    if certificate.revoked_at is not None:
        db.session.commit()
        abort(404)
    target = {"object_type": "certificate", "object_id": certificate.code}
    if issued_before is None:
        audit("certificate.issued", comune_id=completion.comune_id, **target)
    audit(
        "certificate.downloaded",
        comune_id=completion.comune_id,
        details={"holder": completion.user_id, "completion": completion.id},
        **target,
    )
    db.session.commit()
    pdf = render_pdf(certificate, verify_url(certificate.code))
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf_filename(certificate)}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/verifica/<code>")
def verify(code: str) -> tuple[str, int]:
    certificate = certificate_by_code(code)
    if certificate is None:
        from lgnetforma.services.learning.record import statement_by_code

        statement = statement_by_code(code)
        if statement is not None:
            return render_template("sessions/verify_statement.html", statement=statement), 200
        return render_template("certificates/not_found.html", code=code), 404
    return render_template("certificates/verify.html", certificate=certificate), 200

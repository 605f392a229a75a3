"""A person's own data: export everything (GDPR art. 15/20) and delete the account (art. 17).

Deletion wipes what identifies the person but keeps the rows that feed the plan's figures
(enrolments, attempts, completions), now attached to an anonymous account, so national
statistics do not change.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from lgnetforma.extensions import db
from lgnetforma.models import (
    AttemptGrant,
    Certificate,
    Course,
    CourseCompletion,
    Enrolment,
    Module,
    ModuleCompletion,
    ModuleVersion,
    QuizAttempt,
    SamlRequest,
    User,
    utcnow,
)
from lgnetforma.services.learning.certificates import revoke_certificates_of

DELETED_REASON = "—"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def export_data(user: User) -> dict[str, Any]:
    """Everything the platform holds about ``user``, as JSON-serialisable data."""
    courses = {c.id: c.slug for c in db.session.scalars(select(Course))}
    modules = {m.id: (courses.get(m.course_id), m.slug) for m in db.session.scalars(select(Module))}
    attempts = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.user_id == user.id).order_by(QuizAttempt.id)
    )
    versions = dict(db.session.execute(select(ModuleVersion.id, ModuleVersion.number)).all())
    return {
        "account": {
            "email": user.email,
            "full_name": user.full_name,
            "fiscal_code": user.fiscal_code,
            "role": user.role,
            "comune": {"istat_code": user.comune.istat_code, "name": user.comune.name}
            if user.comune
            else None,
            "created_at": _iso(user.created_at),
            "confirmed_at": _iso(user.confirmed_at),
            "last_login_at": _iso(user.last_login_at),
            "locale": user.locale,
        },
        "enrolments": [
            {
                "course": courses.get(e.course_id),
                "cycle": e.cycle.code,
                "enrolled_at": _iso(e.created_at),
                "last_activity_at": _iso(e.last_activity_at),
            }
            for e in db.session.scalars(select(Enrolment).where(Enrolment.user_id == user.id))
        ],
        "quiz_attempts": [
            {
                "course": modules.get(a.module_id, (None, None))[0],
                "module": modules.get(a.module_id, (None, None))[1],
                "module_version": versions.get(a.module_version_id),
                "number": a.number,
                "started_at": _iso(a.started_at),
                "submitted_at": _iso(a.submitted_at),
                "answers": a.answers,
                "score": a.score,
                "passed": a.passed,
            }
            for a in attempts
        ],
        "module_completions": [
            {
                "course": modules.get(c.module_id, (None, None))[0],
                "module": modules.get(c.module_id, (None, None))[1],
                "module_version": versions.get(c.module_version_id),
                "completed_at": _iso(c.completed_at),
            }
            for c in db.session.scalars(
                select(ModuleCompletion).where(ModuleCompletion.user_id == user.id)
            )
        ],
        "course_completions": [
            {
                "course": courses.get(c.course_id),
                "cycle": c.cycle.code,
                "hours": c.hours,
                "completed_at": _iso(c.completed_at),
            }
            for c in db.session.scalars(
                select(CourseCompletion).where(CourseCompletion.user_id == user.id)
            )
        ],
        "attempt_grants": [
            {
                "course": modules.get(g.module_id, (None, None))[0],
                "module": modules.get(g.module_id, (None, None))[1],
                "cycle": g.cycle.code,
                "extra_attempts": g.extra,
                "reason": g.reason,
                "granted_at": _iso(g.created_at),
            }
            for g in db.session.scalars(
                select(AttemptGrant)
                .where(AttemptGrant.user_id == user.id)
                .order_by(AttemptGrant.id)
            )
        ],
        "certificates": [
            {
                "code": cert.code,
                "course": cert.course_title,
                "hours": cert.hours,
                "completed_on": _iso(cert.completed_on),
                "revoked_at": _iso(cert.revoked_at),
            }
            for cert in db.session.scalars(
                select(Certificate)
                .join(CourseCompletion, CourseCompletion.id == Certificate.completion_id)
                .where(CourseCompletion.user_id == user.id)
            )
        ],
        **_sessions_data(user),
    }


def _sessions_data(user: User) -> dict[str, Any]:
    """Live-session registrations, attendance and yearly statements."""
    from lgnetforma.models import LiveSession, SessionRegistration, TrainingStatement

    rows = db.session.execute(
        select(SessionRegistration, LiveSession)
        .join(LiveSession, LiveSession.id == SessionRegistration.session_id)
        .where(SessionRegistration.user_id == user.id)
        .order_by(SessionRegistration.id)
    ).all()
    return {
        "session_registrations": [
            {
                "session": session.title,
                "starts_at": _iso(session.starts_at),
                "status": registration.status,
                "queued_at": _iso(registration.queued_at),
                "attended_minutes": registration.attended_minutes,
                "attendance_percent": registration.attendance_percent,
                "credited_hours": registration.credited_hours,
            }
            for registration, session in rows
        ],
        "training_statements": [
            {
                "code": s.code,
                "year": s.year,
                "total_hours": s.total_hours,
                "issued_at": _iso(s.issued_at),
                "revoked_at": _iso(s.revoked_at),
            }
            for s in db.session.scalars(
                select(TrainingStatement).where(TrainingStatement.user_id == user.id)
            )
        ],
    }


def delete_account(user: User) -> None:
    """Remove personal data; keep anonymous learning records so totals stay the same."""
    revoke_certificates_of(user, "account eliminato su richiesta dell'interessato")
    from lgnetforma.services.learning.record import revoke_statements_of

    revoke_statements_of(user)
    for attempt in db.session.scalars(select(QuizAttempt).where(QuizAttempt.user_id == user.id)):
        # Typed answers may contain personal data; chosen option keys do not, and item
        # analysis still needs them.
        short = {
            q["number"]
            for q in (attempt.module_version.quiz or {}).get("questions", [])
            if q["kind"] == "short"
        }
        attempt.answers = None
        if attempt.results:
            attempt.results = [
                {**r, "chosen": []} if r["number"] in short else r for r in attempt.results
            ]
    # A grant's reason is free text about the person: it goes; the grant (a number) stays.
    for grant in db.session.scalars(select(AttemptGrant).where(AttemptGrant.user_id == user.id)):
        grant.reason = DELETED_REASON
    user.email = f"eliminato-{user.id}@invalid"
    user.full_name = "Account eliminato"
    user.fiscal_code = None
    db.session.execute(delete(SamlRequest).where(SamlRequest.user_id == user.id))
    user.password_hash = None
    user.is_active_account = False
    user.is_confirmed = False
    user.locale = None
    user.last_login_at = None
    user.deleted_at = utcnow()
    user.session_version += 1

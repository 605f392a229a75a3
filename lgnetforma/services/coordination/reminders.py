"""Reminders to operators enrolled in courses they have not completed.

Every reminder is logged, and no operator receives more than one every 7 days, whatever
the course and whoever sends it: the throttle is checked again, with the operators' rows
locked, in the transaction that logs the new reminders.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from lgnetforma.extensions import db
from lgnetforma.i18n import in_language
from lgnetforma.models import (
    Comune,
    Course,
    CourseCompletion,
    CourseVersion,
    Cycle,
    Enrolment,
    OutboundMail,
    Reminder,
    Role,
    User,
    utcnow,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import queue_mail, recipient_locale

THROTTLE = timedelta(days=7)
_IN_CHUNK = 900


@dataclass(frozen=True)
class PendingCourse:
    course: Course
    title: str
    last_activity: datetime


@dataclass
class Candidate:
    """An operator with at least one course not completed and not touched for a while."""

    user: User
    comune_name: str
    last_reminded_at: datetime | None
    courses: list[PendingCourse] = field(default_factory=list)

    def throttled(self, now: datetime) -> bool:
        return self.last_reminded_at is not None and self.last_reminded_at > now - THROTTLE


@dataclass(frozen=True)
class SendOutcome:
    """``sent``: the operators whose reminder is now in the outbox (the worker sends it)."""

    sent: list[Candidate]
    skipped: list[Candidate]


def candidates(
    scope: Scope,
    cycle: Cycle,
    *,
    course: Course | None = None,
    inactive_days: int,
    now: datetime | None = None,
) -> list[Candidate]:
    """Operators of ``scope`` enrolled in ``cycle`` (in ``course``, or in any course) who
    have not completed it and whose last activity on it — or their enrolment, if they
    never started — is older than ``inactive_days``. One query, by name."""
    now = now or utcnow()
    last_activity = func.coalesce(Enrolment.last_activity_at, Enrolment.created_at)
    last_reminder = (
        select(Reminder.user_id, func.max(Reminder.sent_at).label("sent_at"))
        .group_by(Reminder.user_id)
        .subquery()
    )
    query = (
        select(User, Course, Comune.name, last_activity, last_reminder.c.sent_at)
        .join(Enrolment, Enrolment.user_id == User.id)
        .join(Course, Course.id == Enrolment.course_id)
        .join(CourseVersion, CourseVersion.id == Course.current_version_id)
        .join(Comune, Comune.id == User.comune_id)
        .outerjoin(CourseCompletion, CourseCompletion.of_enrolment())
        .outerjoin(last_reminder, last_reminder.c.user_id == User.id)
        .options(contains_eager(Course.current_version))
        .where(
            scope.user_condition(),
            Enrolment.cycle_id == cycle.id,
            CourseCompletion.id.is_(None),
            Course.is_published.is_(True),
            User.role == Role.OPERATOR,
            User.is_active_account.is_(True),
            User.deleted_at.is_(None),
            last_activity < now - timedelta(days=inactive_days),
        )
        .order_by(User.full_name, User.id, CourseVersion.title, Course.slug)
    )
    if course is not None:
        query = query.where(Enrolment.course_id == course.id)
    found: dict[int, Candidate] = {}
    for user, row_course, comune_name, activity, reminded_at in db.session.execute(query):
        candidate = found.get(user.id)
        if candidate is None:
            candidate = found[user.id] = Candidate(user, comune_name, reminded_at)
        title = row_course.current_version.title if row_course.current_version else ""
        candidate.courses.append(PendingCourse(row_course, title, activity))
    return list(found.values())


def default_subject() -> str:
    return _("Promemoria: i tuoi corsi LGNetforma da completare")


def default_message() -> str:
    return _(
        "ti ricordiamo che hai un'iscrizione a questi corsi del piano formativo LGNetforma "
        "e non li hai ancora completati:"
    )


@dataclass(frozen=True)
class Wording:
    """What the sender may change: the subject and the paragraph above the course list.
    None (or the standard text) means the standard one, in each recipient's language."""

    subject: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, subject: str | None, message: str | None) -> Wording:
        subject = " ".join((subject or "").split())  # one line: a header
        message = (message or "").strip().replace("\r\n", "\n")
        return cls(
            subject=subject if subject and subject != default_subject() else None,
            message=message if message and message != default_message() else None,
        )


def render_reminder(
    user: User, courses: Sequence[Course], wording: Wording | None = None
) -> tuple[str, str]:
    """The subject and body of the reminder mail (templates/mail/reminder.txt), in the
    recipient's language."""
    wording = wording or Wording()
    with in_language(recipient_locale(user)):
        items = [
            {
                "title": course.current_version.title if course.current_version else course.slug,
                "link": absolute_url("learn.course", slug=course.slug),
            }
            for course in courses
        ]
        context = {
            "courses": items,
            "my_courses_link": absolute_url("learn.my_courses"),
            "message": wording.message or default_message(),
        }
        return wording.subject or default_subject(), render_template(
            "mail/reminder.txt", user=user, **context
        )


def send_reminders(
    scope: Scope,
    cycle: Cycle,
    *,
    course: Course | None = None,
    inactive_days: int,
    actor: User | None,
    wording: Wording | None = None,
    now: datetime | None = None,
) -> SendOutcome:
    """Queue one reminder per candidate not reminded in the last 7 days and log each one,
    in one transaction (committed here). ``actor`` None: the automatic reminders."""
    now = now or utcnow()
    found = candidates(scope, cycle, course=course, inactive_days=inactive_days, now=now)
    if not found:
        return SendOutcome(sent=[], skipped=[])
    user_ids = sorted(c.user.id for c in found)
    mails: list[OutboundMail] = []
    try:
        recent: set[int] = set()
        for chunk in _chunks(user_ids):
            # Lock the operators (PostgreSQL; SQLite serialises writers anyway) so two
            # coordinators sending at once cannot both pass the throttle.
            db.session.execute(
                select(User.id).where(User.id.in_(chunk)).order_by(User.id).with_for_update()
            )
            recent.update(
                db.session.scalars(
                    select(Reminder.user_id).where(
                        Reminder.user_id.in_(chunk), Reminder.sent_at > now - THROTTLE
                    )
                )
            )
        to_send = [c for c in found if c.user.id not in recent]
        skipped = [c for c in found if c.user.id in recent]
        for candidate in to_send:
            subject, body = render_reminder(
                candidate.user, [p.course for p in candidate.courses], wording
            )
            mails.append(
                queue_mail(
                    candidate.user.email,
                    subject,
                    body,
                    kind="reminder",
                    locale=recipient_locale(candidate.user),
                )
            )
        db.session.flush()  # the mails' ids
        for candidate, mail in zip(to_send, mails, strict=True):
            pending = candidate.courses
            db.session.add(
                Reminder(
                    user_id=candidate.user.id,
                    course_id=course.id
                    if course is not None
                    else (pending[0].course.id if len(pending) == 1 else None),
                    cycle_id=cycle.id,
                    sent_by_id=actor.id if actor is not None else None,
                    mail_id=mail.id,
                    sent_at=now,
                )
            )
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return SendOutcome(sent=to_send, skipped=skipped)


def _chunks(values: Sequence[int]) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]

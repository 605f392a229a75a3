"""Bulk enrolment, step 3: applying a checked file in one transaction (accounts, enrolments,
invitations queued in the outbox), and the example file."""

from __future__ import annotations

from collections.abc import Sequence

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import (
    BulkUpload,
    Comune,
    Course,
    Cycle,
    Enrolment,
    OutboundMail,
    Role,
    User,
)
from lgnetforma.services.coordination.bulk_check import preview
from lgnetforma.services.coordination.bulk_read import BulkResult, GoodRow
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.people.accounts import (
    reset_token,
)
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import queue_mail
from lgnetforma.services.reporting import tallies

# --- applying the file -----------------------------------------------------------------


def add_enrolment(user: User, course: Course, cycle: Cycle, *, enrolled_by: User) -> Enrolment:
    """The bulk counterpart of learning.enrol(): the file was checked as a whole, so no
    query here; the unique constraint still guards against a concurrent enrolment."""
    enrolment = Enrolment(
        user_id=user.id, course_id=course.id, cycle_id=cycle.id, enrolled_by_id=enrolled_by.id
    )
    db.session.add(enrolment)
    return enrolment


def confirm(text: str, *, scope: Scope, cycle: Cycle, actor: User, filename: str) -> BulkResult:
    """Check the file again, then create the accounts, the enrolments, the invitations and
    the BulkUpload record in one transaction: all of them or, on any error, none.
    The invitations are queued in the same transaction; the worker delivers them."""
    checked = preview(text, scope=scope, cycle=cycle)
    ensure_cycle_open(cycle)  # and hold it open until this transaction ends
    mails: list[OutboundMail] = []
    try:
        created: dict[str, User] = {}
        for row in checked.good:
            if row.user is None:
                created[row.email] = _new_operator(row)
        db.session.flush()  # ids, for the enrolments and the invitation links
        enrolments = [
            add_enrolment(row.user or created[row.email], course, cycle, enrolled_by=actor)
            for row in checked.good
            for course in row.new_courses
        ]
        db.session.flush()
        tallies.record_enrolments(enrolments)
        subject = _("Il tuo account LGNetforma e i tuoi corsi")
        for row in checked.good:
            if row.user is None:
                user = created[row.email]
                body = render_template(
                    "mail/bulk_invitation.txt",
                    user=user,
                    comune=row.comune,
                    cycle=cycle,
                    courses=[c.current_version.title for c in row.courses if c.current_version],
                    link=absolute_url("auth.reset", token=reset_token(user)),
                )
                mails.append(queue_mail(user.email, subject, body, kind="invitation"))
        upload = BulkUpload(
            uploaded_by_id=actor.id,
            filename=(filename or "iscrizioni.csv")[:255],
            content_hash=checked.content_hash,
            rows_total=checked.rows_total,
            rows_rejected=len(checked.bad),
            accounts_created=checked.new_accounts,
            enrolments_created=checked.new_enrolments,
        )
        db.session.add(upload)
        db.session.flush()
        upload_id = upload.id
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(
            _l(
                "Nel frattempo alcuni account o iscrizioni del file sono stati creati da "
                "un'altra operazione: non è stato salvato niente. Carica di nuovo il file per "
                "vedere l'anteprima aggiornata."
            )
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return BulkResult(
        upload_id=upload_id,
        rows_total=checked.rows_total,
        rows_rejected=len(checked.bad),
        accounts_created=checked.new_accounts,
        enrolments_created=checked.new_enrolments,
        accounts_existing=checked.existing_accounts,
        enrolments_existing=checked.existing_enrolments,
        mails_queued=len(mails),
    )


def _new_operator(row: GoodRow) -> User:
    """What accounts.create_user(role=operator, password=None, confirmed=False) makes,
    without its per-row look-up: the file's emails were checked in one query."""
    user = User(
        email=row.email,
        full_name=row.name,
        password_hash=None,
        role=Role.OPERATOR,
        comune=row.comune,
        is_confirmed=False,
        confirmed_at=None,
    )
    db.session.add(user)
    return user


def example_csv(comuni: Sequence[Comune], slugs: Sequence[str]) -> str:
    """A small file in the expected format, with a BOM so that Excel reads it as UTF-8."""
    first = comuni[0] if comuni else None
    second = comuni[1] if len(comuni) > 1 else first
    one = slugs[0] if slugs else "slug-del-corso"
    both = " ".join(slugs[:2]) if slugs else "slug-del-corso altro-corso"
    lines = [
        "nome;email;comune;corsi",
        f"Maria Bianchi;maria.bianchi@example.it;{first.istat_code if first else '058091'};{both}",
        f"Luca Verdi;luca.verdi@example.it;{second.name if second else 'Roma'};{one}",
    ]
    return "\ufeff" + "\r\n".join(lines) + "\r\n"

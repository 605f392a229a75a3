"""The scheduled jobs the worker runs: automatic reminders, the retention purge and the
nightly check of the report tallies. Each run leaves a JobRun row (shown to admins on
/admin/attivita); (job, period) is unique, so of several workers only one runs a slot."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from lgnetforma.extensions import db
from lgnetforma.models import (
    ApiToken,
    AuditEvent,
    AuditPurgePermit,
    JobRun,
    MailStatus,
    OutboundMail,
    Reminder,
    ReminderSchedule,
    User,
    utcnow,
)
from lgnetforma.services.platform.errors import ServiceError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's names


@dataclass(frozen=True)
class JobResult:
    ok: bool
    summary: str


# --- the reminder schedule an admin sets ------------------------------------------------


def reminder_schedule() -> ReminderSchedule:
    """The automatic-reminder settings (created, disabled, on first use)."""
    schedule = db.session.get(ReminderSchedule, 1)
    if schedule is None:
        try:
            with db.session.begin_nested():  # two workers may get here at once
                schedule = ReminderSchedule(
                    id=1, enabled=False, weekday=0, hour=9, inactive_days=14
                )
                db.session.add(schedule)
        except IntegrityError:
            schedule = db.session.get(ReminderSchedule, 1)
    return schedule


def update_reminder_schedule(
    *, enabled: bool, weekday: int, hour: int, inactive_days: int, actor: User
) -> ReminderSchedule:
    if not 0 <= weekday <= 6:
        raise ServiceError(_l("Giorno della settimana non valido."), field="weekday")
    if not 0 <= hour <= 23:
        raise ServiceError(_l("Indica un'ora tra 0 e 23."), field="hour")
    if not 1 <= inactive_days <= 365:
        raise ServiceError(_l("Indica un numero di giorni tra 1 e 365."), field="inactive_days")
    schedule = reminder_schedule()
    schedule.enabled, schedule.weekday, schedule.hour = enabled, weekday, hour
    schedule.inactive_days = inactive_days
    schedule.updated_at, schedule.updated_by_id = utcnow(), actor.id
    return schedule


# --- the jobs ----------------------------------------------------------------------------


def automatic_reminders(now: datetime | None = None) -> JobResult:
    """Remind the operators of every comune idle on a course of the open cycle for the
    configured number of days (never more than one reminder per operator every 7 days)."""
    from lgnetforma.services.coordination.reminders import send_reminders
    from lgnetforma.services.coordination.scope import Scope
    from lgnetforma.services.platform.cycles import NoCurrentCycle, current_cycle

    schedule = reminder_schedule()
    db.session.commit()
    if not schedule.enabled:
        return JobResult(True, "promemoria automatici disattivati")
    if not current_app.config.get("PUBLIC_BASE_URL"):
        # Outside a request the links in the mail can only come from the configuration.
        return JobResult(False, "imposta PUBLIC_BASE_URL: i promemoria contengono i link ai corsi")
    try:
        cycle = current_cycle()
    except NoCurrentCycle:
        return JobResult(True, "nessun ciclo aperto: nessun promemoria")
    # Flask builds addresses inside a request only: one on PUBLIC_BASE_URL, for the links.
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        outcome = send_reminders(
            Scope("national"), cycle, inactive_days=schedule.inactive_days, actor=None, now=now
        )
    return JobResult(
        True,
        f"{len(outcome.sent)} promemoria in coda, {len(outcome.skipped)} operatori già "
        "avvisati negli ultimi 7 giorni",
    )


def purge(now: datetime | None = None) -> JobResult:
    """Delete what is past its retention: audit events (AUDIT_RETENTION_DAYS), messages
    no longer queued (MAIL_RETENTION_DAYS; they hold links with tokens) and API tokens
    revoked long ago (REVOKED_TOKEN_RETENTION_DAYS)."""
    config = current_app.config
    now = now or utcnow()
    audit_before = now - timedelta(days=config["AUDIT_RETENTION_DAYS"])
    mail_before = now - timedelta(days=config["MAIL_RETENTION_DAYS"])
    token_before = now - timedelta(days=config["REVOKED_TOKEN_RETENTION_DAYS"])
    try:
        # The triggers of migration 0006 let audit rows older than this permit go, in
        # this transaction only: the permit is deleted before the commit.
        permit = AuditPurgePermit(before=audit_before)
        db.session.add(permit)
        db.session.flush()
        events = db.session.execute(
            delete(AuditEvent).where(AuditEvent.occurred_at < audit_before)
        ).rowcount
        db.session.delete(permit)
        old_mail = select(OutboundMail.id).where(
            OutboundMail.status != MailStatus.QUEUED, OutboundMail.created_at < mail_before
        )
        db.session.execute(
            update(Reminder).where(Reminder.mail_id.in_(old_mail)).values(mail_id=None)
        )
        mails = db.session.execute(
            delete(OutboundMail).where(OutboundMail.id.in_(old_mail))
        ).rowcount
        tokens = db.session.execute(
            delete(ApiToken).where(ApiToken.revoked_at < token_before)
        ).rowcount
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return JobResult(
        True,
        f"eliminati {events} eventi di audit, {mails} messaggi, {tokens} token revocati",
    )


def check_tallies() -> JobResult:
    """The nightly `lgnetforma reports check-tallies`."""
    from lgnetforma.services.reporting import tallies

    found = tallies.differences()
    db.session.rollback()
    if not found:
        return JobResult(True, "I totali corrispondono ai dati.")
    lines = [
        f"{table} {key}: {figure} = {stored}, ricalcolato {recounted}"
        for table, key, figure, stored, recounted in found[:20]
    ]
    return JobResult(
        False,
        f"{len(found)} totali non corrispondono ai dati: ricostruiscili con "
        "`lgnetforma reports rebuild-tallies`.\n" + "\n".join(lines),
    )


def session_reminders() -> JobResult:
    """The day-before reminders of the live sessions starting in the next 24 hours (each
    session's once), run every hour."""
    from lgnetforma.services.sessions.registration import send_reminders

    queued = send_reminders()
    db.session.commit()
    return JobResult(True, f"{queued} promemoria di incontri in coda")


JOBS: dict[str, Callable[[], JobResult]] = {
    "reminders": automatic_reminders,
    "session-reminders": session_reminders,
    "purge": purge,
    "check-tallies": check_tallies,
}
# Jobs that run more than once a day: their slot is the hour, not the day.
HOURLY = frozenset({"session-reminders"})


def period_of(now: datetime | None = None, *, hourly: bool = False) -> str:
    """The slot a scheduled run belongs to: the day in Italy, or its hour for HOURLY jobs."""
    local = (now or utcnow()).astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
    return local.strftime("%Y-%m-%dT%H") if hourly else local.date().isoformat()


def run_job(name: str, period: str | None = None) -> JobRun | None:
    """Run job ``name`` for ``period`` (today by default) unless a run of that slot exists
    (another worker has it): then None. The outcome goes to the log and to the JobRun."""
    run = JobRun(job=name, period=period or period_of(hourly=name in HOURLY), started_at=utcnow())
    db.session.add(run)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        current_app.logger.info("job %s %s: already run by another worker", name, run.period)
        return None
    run_id = run.id
    try:
        result = JOBS[name]()
    except Exception as exc:  # the outcome is recorded, the worker goes on
        db.session.rollback()
        current_app.logger.exception("job %s failed", name)
        result = JobResult(False, f"errore: {type(exc).__name__}: {exc}")
    run = db.session.get(JobRun, run_id)
    run.finished_at, run.ok, run.summary = utcnow(), result.ok, result.summary
    db.session.commit()
    log = current_app.logger.info if result.ok else current_app.logger.warning
    log("job %s %s: %s", name, run.period, result.summary)
    return run


def recent_runs(limit: int = 50) -> list[JobRun]:
    return list(db.session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))

"""`lgnetforma worker`: the outbox delivered by real processes to a real SMTP server, on
SQLite and PostgreSQL; retries, failures, clean stops, crashes, and the scheduled jobs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select, text

from lgnetforma.extensions import db
from lgnetforma.models import (
    ApiToken,
    AuditEvent,
    JobRun,
    OutboundMail,
    Reminder,
    User,
    utcnow,
)
from lgnetforma.services.platform import jobs
from lgnetforma.services.platform.mail import backoff, queue_mail
from tests.helpers import Mailbox, SMTPHandler, _free_port, csrf_token, run_worker_once
from tests.test_reminders import courses, people  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parent.parent


# --- helpers ---------------------------------------------------------------------------


class GatedHandler(SMTPHandler):
    """An SMTP server that holds its answer to one message until told to go on."""

    def __init__(self, mailbox: Mailbox, hold_subject: str, *, keep_first: bool = False) -> None:
        super().__init__(mailbox)
        self.hold_subject = hold_subject
        self.keep_first = keep_first  # store the message before answering (see below)
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        if f"Subject: {self.hold_subject}\r\n".encode() in envelope.content:
            if self.keep_first:
                self.mailbox.receive(envelope.content)
            self.holding.set()
            while not self.release.is_set():  # a blocking wait would stall the loop
                await _sleep(0.02)
            if self.keep_first:
                return "250 OK"
        return await super().handle_DATA(server, session, envelope)


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


@pytest.fixture
def smtp_factory() -> Iterator[Any]:
    started: list[Controller] = []

    def start(handler: SMTPHandler, port: int | None = None) -> int:
        port = port or _free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def _env(database_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "tests-only-secret-key",
        "LGNETFORMA_ENV": "development",
        "MAIL_BACKEND": "smtp",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(port),
        "WORKER_POLL_SECONDS": "1",
        "MAIL_RETRY_BASE_SECONDS": "1",
    }
    env.update(extra)
    return env


def _worker(database_url: str, port: int, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lgnetforma", "worker", *args],
        cwd=ROOT,
        env=_env(database_url, port, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _queue(app: Any, count: int, subject: str = "Messaggio {n}") -> None:
    with app.app_context():
        for n in range(count):
            queue_mail(f"persona{n}@example.it", subject.format(n=n), f"Testo {n}")
        db.session.commit()


def _statuses(app: Any) -> Counter:
    with app.app_context():
        return Counter(db.session.scalars(select(OutboundMail.status)))


def _wait_for(condition: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


# --- the acceptance scenarios ----------------------------------------------------------


def test_a_registration_made_while_the_mail_server_is_down_arrives_by_itself(
    app_config, database_url, smtp_factory
):
    """SMTP_PORT points where nothing listens; an operator registers; the mail server
    starts afterwards; the running worker delivers the confirmation (within 60 s) without
    anyone typing a command."""
    from lgnetforma import create_app
    from tests.test_auth import _register

    port = _free_port()
    app = create_app({**app_config, "SMTP_PORT": port})
    _register(app.test_client())
    worker = _worker(database_url, port)
    try:
        with app.app_context():
            _wait_for(lambda: db.session.scalar(select(OutboundMail.attempts)) >= 1)
            db.session.remove()
        box = Mailbox()
        smtp_factory(SMTPHandler(box), port)
        _wait_for(lambda: box.received, seconds=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "/conferma/" in box.received[0].get_content()
    assert _statuses(app) == Counter({"sent": 1})


@pytest.mark.parametrize("backend", ["postgresql"])
def test_two_workers_on_postgresql_deliver_each_message_exactly_once(
    app, database_url, smtp_factory
):
    box = Mailbox()
    port = smtp_factory(SMTPHandler(box))
    _queue(app, 500)
    workers = [_worker(database_url, port, "--once") for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    subjects = Counter(str(m["Subject"]) for m in box.received)
    assert len(subjects) == 500 and set(subjects.values()) == {1}
    assert _statuses(app) == Counter({"sent": 500})
    print("\nsplit between the two workers:", [out.strip() for out, _err in outputs])


def test_sigterm_finishes_the_message_in_hand_then_stops(app, database_url, smtp_factory):
    box = Mailbox()
    handler = GatedHandler(box, hold_subject="Messaggio 1")
    port = smtp_factory(handler)
    _queue(app, 4)
    worker = _worker(database_url, port)
    try:
        assert handler.holding.wait(60), "the worker never sent message 1"
        worker.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the signal arrives while the server still holds its answer
        handler.release.set()
        worker.communicate(timeout=60)
    finally:
        handler.release.set()
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0
    assert [str(m["Subject"]) for m in box.received] == ["Messaggio 0", "Messaggio 1"]
    with app.app_context():
        rows = dict(db.session.execute(select(OutboundMail.subject, OutboundMail.status)).all())
    assert rows == {
        "Messaggio 0": "sent",
        "Messaggio 1": "sent",  # finished and recorded, not abandoned
        "Messaggio 2": "queued",
        "Messaggio 3": "queued",
    }


def test_a_worker_killed_mid_delivery_loses_nothing(app, database_url, smtp_factory):
    """SIGKILL while the server has message 2 but has not answered yet: the server keeps
    it (the window every SMTP client has), the worker never recorded it. The next worker
    sends it again (at-least-once: this one message twice) and the others exactly once."""
    box = Mailbox()
    handler = GatedHandler(box, hold_subject="Messaggio 2", keep_first=True)
    port = smtp_factory(handler)
    _queue(app, 6)
    worker = _worker(database_url, port)
    try:
        assert handler.holding.wait(60)
        worker.kill()
        worker.communicate(timeout=30)
    finally:
        handler.release.set()
    assert len(box.received) == 3
    again = _worker(database_url, port, "--once")
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    subjects = Counter(str(m["Subject"]) for m in box.received)
    assert set(subjects) == {f"Messaggio {n}" for n in range(6)}, "a message was lost"
    assert subjects["Messaggio 2"] == 2
    assert all(count == 1 for subject, count in subjects.items() if subject != "Messaggio 2")
    assert _statuses(app) == Counter({"sent": 6})


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL takes any number
def test_one_worker_per_sqlite_database(app, database_url):
    from lgnetforma.worker import Worker, WorkerAlreadyRunning

    first = Worker(app)
    first.run_once()
    with pytest.raises(WorkerAlreadyRunning, match="SQLite ne gira uno solo"):
        Worker(app).run_once()


# --- retries and failures --------------------------------------------------------------


def test_backoff_doubles_up_to_a_ceiling(app):
    app.config.update(MAIL_RETRY_BASE_SECONDS=10, MAIL_RETRY_MAX_SECONDS=3600)
    with app.app_context():
        assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 9, 20)] == [
            10,
            20,
            40,
            80,
            2560,
            3600,
        ]


def test_a_message_fails_after_the_last_try_with_the_servers_last_answer(app):
    app.config.update(SMTP_PORT=1, MAIL_MAX_ATTEMPTS=3, MAIL_RETRY_BASE_SECONDS=60)
    _queue(app, 1)
    assert run_worker_once(app).retried == 1
    assert run_worker_once(app).handled == 0, "retried before its back-off"
    with app.app_context():
        mail = db.session.scalar(select(OutboundMail))
        wait = mail.next_attempt_at - utcnow()
        assert timedelta(seconds=50) < wait <= timedelta(seconds=60)
        mail.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert run_worker_once(app).retried == 1
    with app.app_context():
        db.session.scalar(select(OutboundMail)).next_attempt_at = utcnow()
        db.session.commit()
    assert run_worker_once(app).failed == 1
    with app.app_context():
        mail = db.session.scalar(select(OutboundMail))
        assert (mail.status, mail.attempts) == ("failed", 3)
        assert mail.last_error.startswith("ConnectionRefusedError")
    assert run_worker_once(app).handled == 0


def test_console_backend_prints_the_mail(app, capsys):
    app.config["MAIL_BACKEND"] = "console"
    _queue(app, 1, subject="Benvenuto")
    assert run_worker_once(app).sent == 1
    printed = capsys.readouterr().out
    assert "Subject: Benvenuto" in printed and "Testo 0" in printed


def test_development_mail_page_only_with_the_console_backend(app_config):
    from lgnetforma import create_app

    dev = create_app({**app_config, "MAIL_BACKEND": "console"})
    with dev.app_context():
        queue_mail("chi@example.it", "Conferma", "Apri http://localhost/conferma/abc")
        db.session.commit()
    page = dev.test_client().get("/sviluppo/posta")
    assert page.status_code == 200
    assert 'href="http://localhost/conferma/abc"' in page.get_data(as_text=True)
    smtp = create_app(app_config)
    assert smtp.test_client().get("/sviluppo/posta").status_code == 404


def test_production_refuses_the_console_backend():
    from lgnetforma.config import ConfigError, check_production

    with pytest.raises(ConfigError, match="MAIL_BACKEND=console"):
        check_production(
            {
                "LGNETFORMA_ENV": "production",
                "SECRET_KEY_FROM_ENV": True,
                "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x/y",
                "MAIL_BACKEND": "console",
            }
        )


# --- the admins' outbox -----------------------------------------------------------------


def test_outbox_page_filters_and_audited_resend_and_cancel(app, client, login_as, mailbox):
    admin = login_as("admin")
    with app.app_context():
        for n, (status, kind) in enumerate(
            [("sent", "confirm"), ("failed", "reset"), ("queued", "invitation")]
        ):
            mail = queue_mail(f"p{n}@example.it", f"Oggetto {n}", "Testo", kind=kind)
            mail.status = status
            if status == "failed":
                mail.attempts, mail.last_error = 20, "SMTPRecipientsRefused: 550 no such user"
        db.session.commit()
        ids = dict(db.session.execute(select(OutboundMail.recipient, OutboundMail.id)).all())
    page = client.get("/admin/posta").get_data(as_text=True)
    assert all(f"p{n}@example.it" in page for n in range(3))
    assert "550 no such user" in page and "Non consegnato" in page
    page = client.get("/admin/posta?status=failed").get_data(as_text=True)
    assert "p1@example.it" in page and "p0@example.it" not in page
    page = client.get("/admin/posta?kind=invitation").get_data(as_text=True)
    assert "p2@example.it" in page and "p1@example.it" not in page
    page = client.get("/admin/posta?q=%25").get_data(as_text=True)
    assert "Nessun messaggio." in page  # % is a character, not a wildcard
    assert client.get("/admin/posta?status=nonso").status_code == 400

    token = csrf_token(client, "/admin/posta")
    client.post(f"/admin/posta/{ids['p1@example.it']}/reinvia", data={"csrf_token": token})
    client.post(f"/admin/posta/{ids['p2@example.it']}/annulla", data={"csrf_token": token})
    # A message no longer queued cannot be cancelled.
    response = client.post(
        f"/admin/posta/{ids['p0@example.it']}/annulla",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "non è più in coda" in response.get_data(as_text=True)
    assert [str(m["To"]) for m in mailbox.messages] == ["p1@example.it"]
    assert _statuses(app) == Counter({"sent": 2, "failed": 1, "cancelled": 1})
    with app.app_context():
        events = {
            e.action: e
            for e in db.session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(["mail.resent", "mail.cancelled"]))
            )
        }
        assert set(events) == {"mail.resent", "mail.cancelled"}
        assert events["mail.resent"].actor_id == admin["id"]
        assert events["mail.resent"].object_id == str(ids["p1@example.it"])
        assert events["mail.cancelled"].details["recipient"] == "p2@example.it"
    # Only admins.
    other = app.test_client()
    assert other.get("/admin/posta").status_code == 302


def test_admin_confirms_by_hand_and_resends_a_confirmation(app, client, login_as, mailbox):
    from tests.test_auth import _register

    _register(app.test_client())
    mailbox.clear()
    login_as("admin")
    with app.app_context():
        pending = db.session.scalar(select(User).where(User.is_confirmed.is_(False)))
        user_id = pending.id
    page = client.get(f"/admin/utenti/{user_id}").get_data(as_text=True)
    assert "Invia di nuovo la conferma" in page and "Conferma l'indirizzo" in page
    token = csrf_token(client, f"/admin/utenti/{user_id}")
    response = client.post(
        f"/admin/utenti/{user_id}/conferma/invia",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "in coda" in response.get_data(as_text=True)
    assert "/conferma/" in mailbox.last_link("maria.esposito@comune.roma.it")
    client.post(f"/admin/utenti/{user_id}/conferma", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(User, user_id).is_confirmed
        actions = set(
            db.session.scalars(
                select(AuditEvent.action).where(AuditEvent.object_id == str(user_id))
            )
        )
    assert {"user.confirmation_resent", "user.confirmed_by_admin"} <= actions
    page = client.get(f"/admin/utenti/{user_id}").get_data(as_text=True)
    assert "Conferma l'indirizzo" not in page


# --- scheduled jobs -------------------------------------------------------------------


def test_a_slot_runs_once_whoever_asks(app):
    with app.app_context():
        first = jobs.run_job("check-tallies", period="2026-12-01")
        assert first is not None and first.ok and "corrispondono" in first.summary
        assert jobs.run_job("check-tallies", period="2026-12-01") is None
        assert db.session.scalar(select(func.count(JobRun.id))) == 1


def test_check_tallies_reports_a_difference_to_the_log_and_the_admin_page(
    app, client, login_as, request, caplog
):
    request.getfixturevalue("people")
    with app.app_context():
        # A tally changed outside the application: the nightly check must notice.
        db.session.execute(text("UPDATE report_tally SET enrolments = enrolments + 5"))
        db.session.commit()
        run = jobs.run_job("check-tallies")
        assert not run.ok and "non corrispondono" in run.summary
    assert any("check-tallies" in r.getMessage() for r in caplog.records)
    login_as("admin")
    page = client.get("/admin/attivita").get_data(as_text=True)
    assert "check-tallies" in page and "da controllare" in page and "non corrispondono" in page
    with app.app_context():  # leave the tallies as the fixture expects them
        db.session.execute(text("UPDATE report_tally SET enrolments = enrolments - 5"))
        db.session.commit()


def test_purge_removes_what_is_past_its_retention_and_nothing_else(app, make_user):
    app.config.update(AUDIT_RETENTION_DAYS=365, MAIL_RETENTION_DAYS=90)
    owner = make_user("operator")
    old, recent = utcnow() - timedelta(days=400), utcnow() - timedelta(days=10)
    with app.app_context():
        for when in (old, recent):
            db.session.add(AuditEvent(action="login", occurred_at=when))
            mail = queue_mail("x@example.it", "S", "B")
            mail.status, mail.created_at = "sent", when
            db.session.add(
                ApiToken(
                    user_id=owner["id"],
                    name="t",
                    token_hash=str(when.timestamp()).ljust(64, "0"),
                    prefix="p",
                    revoked_at=when,
                )
            )
        stale_queued = queue_mail("y@example.it", "S", "B")
        stale_queued.created_at = old  # still to be delivered: kept
        db.session.flush()
        db.session.add(Reminder(user_id=owner["id"], cycle_id=1, mail_id=mail.id))
        db.session.commit()
        events_before = db.session.scalar(select(func.count(AuditEvent.id)))
        run = jobs.run_job("purge")
        assert run.ok, run.summary
        assert run.summary == "eliminati 1 eventi di audit, 1 messaggi, 1 token revocati"
        assert db.session.scalar(select(func.count(AuditEvent.id))) == events_before - 1
        assert db.session.scalar(select(func.min(AuditEvent.occurred_at))) > old
        assert db.session.scalar(select(func.count(OutboundMail.id))) == 2
        assert db.session.scalar(select(func.count(ApiToken.id))) == 1
        # Outside the purge the audit trail stays append-only.
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("DELETE FROM audit_event"))
            db.session.flush()
        db.session.rollback()


def test_automatic_reminders_follow_the_admins_schedule(app, client, login_as, request, mailbox):
    who = request.getfixturevalue("people")
    admin = login_as("admin")
    app.config["PUBLIC_BASE_URL"] = ""
    with app.app_context():
        assert jobs.run_job("reminders", period="a").summary == "promemoria automatici disattivati"
    page = client.get("/admin/attivita").get_data(as_text=True)
    assert "Promemoria automatici" in page
    response = client.post(
        "/admin/attivita",
        data={
            "csrf_token": csrf_token(client, "/admin/attivita"),
            "enabled": "y",
            "weekday": "0",
            "hour": "9",
            "inactive_days": "14",
        },
    )
    assert response.status_code == 302
    bad = client.post(
        "/admin/attivita",
        data={
            "csrf_token": csrf_token(client, "/admin/attivita"),
            "weekday": "0",
            "hour": "25",
            "inactive_days": "14",
        },
    )
    assert bad.status_code == 400 and "tra 0 e 23" in bad.get_data(as_text=True)
    with app.app_context():
        run = jobs.run_job("reminders", period="b0")
        assert not run.ok and "PUBLIC_BASE_URL" in run.summary
    app.config["PUBLIC_BASE_URL"] = "https://formazione.example.it"
    with app.app_context():
        run = jobs.run_job("reminders", period="b")
        assert run.summary.startswith("3 promemoria in coda"), run.summary
        assert jobs.run_job("reminders", period="c").summary.startswith("0 promemoria in coda")
        logged = db.session.scalars(select(Reminder)).all()
        assert len(logged) == 3 and all(r.sent_by_id is None for r in logged)
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "reminder_schedule.updated")
        )
        assert event.actor_id == admin["id"] and event.details["inactive_days"] == 14
    body = mailbox.last_body(who["anna"]["email"])
    assert "https://formazione.example.it/corsi/corso-prova" in body
    assert {str(m["To"]) for m in mailbox.messages} == {
        who["anna"]["email"],
        who["elena"]["email"],
        who["dario"]["email"],
    }


def test_the_worker_schedules_the_jobs_with_apscheduler(app):
    from lgnetforma.worker import Worker

    worker = Worker(app)
    worker._start_scheduler()
    try:
        assert {job.id for job in worker._scheduler.get_jobs()} == {
            "purge",
            "check-tallies",
            "session-reminders",
        }
        with app.app_context():
            schedule = jobs.reminder_schedule()
            schedule.enabled, schedule.weekday, schedule.hour = True, 0, 9
            db.session.commit()
        worker._sync_reminder_schedule()
        job = worker._scheduler.get_job("reminders")
        assert str(job.trigger) == "cron[day_of_week='mon', hour='9', minute='0']"
        next_run = job.next_run_time
        assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 9, 0)
        assert str(next_run.tzinfo) == "Europe/Rome"
        with app.app_context():
            jobs.reminder_schedule().enabled = False
            db.session.commit()
        worker._sync_reminder_schedule()
        assert worker._scheduler.get_job("reminders") is None
    finally:
        worker._scheduler.shutdown(wait=False)

"""`lgnetforma worker`: delivers the outbox and runs the scheduled jobs.

The outbox table is the queue (see services/mail.py): a message is written in the
transaction of its event, so nothing can be queued for an event that was rolled back,
and PostgreSQL's ``FOR UPDATE SKIP LOCKED`` lets any number of workers share it. The
periodic jobs are timed by APScheduler's cron triggers; a unique (job, day) row makes
sure that of several workers only one runs each slot (services/jobs.py).

SIGTERM or Ctrl-C: the message in hand is finished and recorded, a running job is
waited for, then the process exits.
"""

from __future__ import annotations

import fcntl
import logging
import signal
import threading
from pathlib import Path
from typing import IO, Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy.engine import make_url

from lgnetforma.extensions import db
from lgnetforma.services.people import password_reset  # noqa: F401  (resolves reset requests)
from lgnetforma.services.platform import jobs
from lgnetforma.services.platform.mail import Drained, deliver_due


class Worker:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._scheduler: BackgroundScheduler | None = None
        self._reminder_key: tuple[Any, ...] | None = None
        self._lock: IO[str] | None = None

    # --- the outbox ---------------------------------------------------------------------

    def drain(self) -> Drained:
        """Deliver every message that is due now (or until asked to stop)."""
        with self.app.app_context():
            try:
                return deliver_due(stop=self.stopping.is_set)
            finally:
                db.session.remove()

    # --- the loop -----------------------------------------------------------------------

    def run_once(self) -> Drained:
        self._single_sqlite_worker()
        self._log_progress()
        return self.drain()

    def run_forever(self) -> None:
        self._single_sqlite_worker()
        self._log_progress()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_args: self.stop())
        self._start_scheduler()
        poll = self.app.config["WORKER_POLL_SECONDS"]
        self.app.logger.info("worker started (poll every %ss)", poll)
        try:
            while not self.stopping.is_set():
                try:
                    self._sync_reminder_schedule()
                    self.drain()
                except Exception:  # the database or the network down: try again later
                    self.app.logger.exception("worker: outbox not delivered, trying again")
                self.stopping.wait(poll)
        finally:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=True)  # lets a running job finish
            self.app.logger.info("worker stopped")

    def stop(self) -> None:
        self.stopping.set()

    def _log_progress(self) -> None:
        """Job results and start/stop are INFO: a worker's log shows them (the web app's
        stays at Flask's WARNING)."""
        if self.app.logger.level in (logging.NOTSET, logging.WARNING):
            self.app.logger.setLevel(logging.INFO)

    # --- scheduled jobs -----------------------------------------------------------------

    def _start_scheduler(self) -> None:
        timezone = self.app.config["BABEL_DEFAULT_TIMEZONE"]
        scheduler = BackgroundScheduler(
            timezone=timezone,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            executors={"default": {"type": "threadpool", "max_workers": 1}},
        )
        for name, setting in (
            ("purge", "JOB_PURGE_CRON"),
            ("check-tallies", "JOB_TALLIES_CRON"),
            ("session-reminders", "JOB_SESSION_REMINDERS_CRON"),
        ):
            trigger = CronTrigger.from_crontab(self.app.config[setting], timezone=timezone)
            scheduler.add_job(self.run_job, trigger, args=[name], id=name)
        scheduler.start()
        self._scheduler = scheduler

    def _sync_reminder_schedule(self) -> None:
        """Follow the admin's settings: (re)schedule or remove the reminders job."""
        if self._scheduler is None:
            return
        with self.app.app_context():
            schedule = jobs.reminder_schedule()
            key = (schedule.enabled, schedule.weekday, schedule.hour)
            db.session.commit()
            db.session.remove()
        if key == self._reminder_key:
            return
        self._reminder_key = key
        if self._scheduler.get_job("reminders"):
            self._scheduler.remove_job("reminders")
        enabled, weekday, hour = key
        if enabled:
            trigger = CronTrigger(
                day_of_week=jobs.WEEKDAYS[weekday],
                hour=hour,
                minute=0,
                timezone=self.app.config["BABEL_DEFAULT_TIMEZONE"],
            )
            self._scheduler.add_job(self.run_job, trigger, args=["reminders"], id="reminders")

    def run_job(self, name: str) -> None:
        with self.app.app_context():
            try:
                jobs.run_job(name)
            finally:
                db.session.remove()

    # --- SQLite: one worker ---------------------------------------------------------------

    def _single_sqlite_worker(self) -> None:
        """SQLite has no row locks: a second worker on the same file refuses to start."""
        url = make_url(self.app.config["SQLALCHEMY_DATABASE_URI"])
        if url.get_backend_name() != "sqlite" or not url.database:
            return
        path = Path(f"{url.database}.worker.lock")
        lock = path.open("a")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            lock.close()
            raise WorkerAlreadyRunning(
                f"un altro worker usa già il database SQLite {url.database}: su SQLite ne "
                "gira uno solo (per più worker usa PostgreSQL)."
            ) from exc
        self._lock = lock


class WorkerAlreadyRunning(RuntimeError):
    pass

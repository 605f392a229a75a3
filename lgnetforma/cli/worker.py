"""`lgnetforma worker` and `lgnetforma jobs`: mail delivery and scheduled jobs."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from lgnetforma.cli.common import _fail

# --- the worker: mail and scheduled jobs -------------------------------------------------


@click.command("worker")
@with_appcontext
@click.option("--once", is_flag=True, help="Consegna la posta in coda ed esce (per cron).")
def worker_command(once: bool) -> None:
    """Consegna la posta in coda ed esegue le attività pianificate, finché non è fermato."""
    from lgnetforma.worker import Worker, WorkerAlreadyRunning

    worker = Worker(current_app._get_current_object())  # type: ignore[attr-defined]
    try:
        if once:
            done = worker.run_once()
            click.echo(
                f"Consegnati: {done.sent}, da riprovare: {done.retried}, non consegnabili: "
                f"{done.failed}"
            )
            return
        worker.run_forever()
    except WorkerAlreadyRunning as error:
        _fail(str(error))


@click.group("jobs", cls=AppGroup, help="Le attività pianificate del worker.")
def jobs_group() -> None:
    pass


@jobs_group.command("run")
@click.argument(
    "name", type=click.Choice(["reminders", "session-reminders", "purge", "check-tallies"])
)
def jobs_run(name: str) -> None:
    """Esegue subito un'attività (per chi usa cron invece del worker)."""
    from lgnetforma.models import utcnow
    from lgnetforma.services.platform.jobs import run_job

    run = run_job(name, period="m" + utcnow().strftime("%Y%m%dT%H%M%S"))
    if run is None:
        _fail(f"{name}: già in esecuzione.")
        return
    click.echo(run.summary)
    if not run.ok:
        sys.exit(1)

"""`lgnetforma seed`: synthetic national data for load tests."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail

# --- seed ------------------------------------------------------------------------------


@click.group("seed", cls=AppGroup, help="Dati sintetici per prove di carico e di calcolo.")
def seed_group() -> None:
    pass


@seed_group.command("synthetic")
@click.option("--operators", type=click.IntRange(1, 1_000_000), required=True)
@click.option("--seed", "seed_value", type=int, default=1, show_default=True)
def seed_synthetic_command(operators: int, seed_value: int) -> None:
    """Genera OPERATORS operatori sintetici con iscrizioni, tentativi e completamenti."""
    import time

    from lgnetforma.dev.synthetic import seed_synthetic
    from lgnetforma.services.platform.cycles import current_cycle

    started = time.perf_counter()
    with click.progressbar(length=operators, label="Operatori") as bar:
        try:
            report = seed_synthetic(
                operators, seed=seed_value, cycle=current_cycle(), progress=bar.update
            )
        except ValueError as error:
            _fail(str(error))
            return
    elapsed = time.perf_counter() - started
    click.echo(
        f"Creati {report.operators} operatori, {report.enrolments} iscrizioni, "
        f"{report.attempts} tentativi, {report.module_completions} moduli completati, "
        f"{report.course_completions} corsi completati in {elapsed:.1f} s."
    )

"""`lgnetforma cycles`: list, open and close training cycles."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _audit, _fail
from lgnetforma.extensions import db

# --- cycles ----------------------------------------------------------------------------


@click.group("cycles", cls=AppGroup, help="I cicli formativi: elenco, apertura, chiusura.")
def cycles_group() -> None:
    pass


def _when(value) -> str:  # noqa: ANN001
    return value.strftime("%d/%m/%Y %H:%M UTC")


@cycles_group.command("list")
def cycles_list() -> None:
    """Elenca i cicli con date, soglia, stato e data dei dati congelati."""
    from lgnetforma.services.platform.cycles import (
        all_cycles,
        count_eligible_comuni,
        snapshots_by_cycle,
    )

    snapshots = snapshots_by_cycle()
    for cycle in all_cycles():
        if cycle.closed_at is not None:
            snapshot = snapshots.get(cycle.id)
            frozen = snapshot.created_at if snapshot else cycle.closed_at
            state = f"chiuso, dati congelati il {_when(frozen)}"
        else:
            state = "aperto, corrente" if cycle.is_current else "aperto"
        click.echo(
            f"{cycle.code}  dal {cycle.start_date:%d/%m/%Y} al {cycle.end_date:%d/%m/%Y}  "
            f"soglia {cycle.population_threshold} abitanti "
            f"({count_eligible_comuni(cycle)} comuni idonei)  {state}"
        )


@cycles_group.command("close")
@click.argument("code")
def cycles_close(code: str) -> None:
    """Chiude il ciclo CODE: ne congela i dati, che non cambieranno più."""
    from lgnetforma.services.platform.cycles import close_cycle, cycle_by_code
    from lgnetforma.services.platform.errors import ServiceError

    cycle = cycle_by_code(code.strip())
    if cycle is None:
        _fail(f"nessun ciclo {code!r}: 'lgnetforma cycles list' mostra quelli esistenti.")
    was_current = cycle.is_current
    try:
        snapshot = close_cycle(cycle, actor=None)
    except ServiceError as error:
        db.session.rollback()
        _fail(str(error))
        return
    _audit("cycle.closed", object_type="cycle", object_id=cycle.code)
    db.session.commit()
    by_comune = snapshot.data["by_comune"]

    def total(name: str) -> int:
        return sum(row[by_comune["columns"].index(name)] for row in by_comune["rows"])

    click.echo(
        f"Ciclo {cycle.code} chiuso: dati congelati il {_when(snapshot.created_at)} "
        f"({total('enrolments')} iscrizioni, {total('completions')} corsi completati, "
        f"{len(by_comune['rows'])} comuni con attività)."
    )
    if was_current:
        click.echo(
            "Nessun ciclo è ora corrente: aprine uno con "
            "'lgnetforma cycles open CODICE --start … --end … --threshold … --current'."
        )


def _date_option(value: str | None, option: str, example: str):  # noqa: ANN202
    from datetime import date

    if not value:
        _fail(f"{option}: indica la data nella forma AAAA-MM-GG, ad esempio {example}.")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        _fail(f"{option}: {value!r} non è una data valida (AAAA-MM-GG, ad esempio {example}).")


@cycles_group.command("open")
@click.argument("code")
@click.option("--start", help="Il primo giorno, AAAA-MM-GG.")
@click.option("--end", help="L'ultimo giorno, AAAA-MM-GG.")
@click.option("--threshold", help="Idonei i comuni con più abitanti di questa soglia.")
@click.option("--current", is_flag=True, help="Rende corrente il nuovo ciclo.")
def cycles_open(
    code: str, start: str | None, end: str | None, threshold: str | None, current: bool
) -> None:
    """Apre il ciclo CODE (ad esempio 2027-2028) con le sue date e la sua soglia."""
    from lgnetforma.services.platform.cycles import count_eligible_comuni, open_cycle
    from lgnetforma.services.platform.errors import ServiceError

    start_date = _date_option(start, "--start", "2027-01-01")
    end_date = _date_option(end, "--end", "2028-12-31")
    if threshold is None or not threshold.strip().isdigit():
        _fail(
            "--threshold: indica un numero intero di abitanti maggiore o uguale a zero, "
            "ad esempio 5000."
        )
    options = {"code": "CODE", "start_date": "--start", "end_date": "--end"}
    try:
        cycle = open_cycle(code, start_date, end_date, int(threshold), make_current=current)
    except ServiceError as error:
        db.session.rollback()
        _fail(f"{options.get(error.field or '', '--threshold')}: {error}")
        return
    db.session.commit()
    click.echo(
        f"Ciclo {cycle.code} aperto, dal {cycle.start_date:%d/%m/%Y} al "
        f"{cycle.end_date:%d/%m/%Y}: {count_eligible_comuni(cycle)} comuni idonei "
        f"(più di {cycle.population_threshold} abitanti)"
        + (", corrente." if cycle.is_current else ".")
    )

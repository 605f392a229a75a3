"""`lgnetforma comuni`: the ISTAT registry of comuni."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail

# --- comuni ----------------------------------------------------------------------------


@click.group("comuni", cls=AppGroup, help="Il registro ISTAT dei comuni.")
def comuni_group() -> None:
    pass


@comuni_group.command("import")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def comuni_import(file: Path | None) -> None:
    """Carica o aggiorna il registro dei comuni (predefinito: il file ISTAT incluso)."""
    from lgnetforma.services.coordination.registry import RegistryFileError, import_comuni
    from lgnetforma.services.platform.cycles import reporting_cycle

    cycle = reporting_cycle()  # the current one or, between two cycles, the latest
    try:
        report = import_comuni(file, cycle=cycle)
    except RegistryFileError as error:
        for problem in error.problems:
            click.echo(f"{file}: {problem}", err=True)
        _fail("file rifiutato, il registro non è stato modificato.")
        return
    click.echo(f"Comuni nel registro: {report.total}")
    click.echo(
        f"Comuni idonei al ciclo {cycle.code} (più di {cycle.population_threshold} abitanti): "
        f"{report.eligible}"
    )
    click.echo(
        f"Nuovi: {report.created}, aggiornati: {report.updated}, invariati: {report.unchanged}"
    )
    if report.missing_from_file:
        click.echo(
            f"Comuni nel registro ma non nel file (mantenuti): {len(report.missing_from_file)}"
        )

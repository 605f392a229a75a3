"""`lgnetforma reports`: the running tallies behind the reports."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail
from lgnetforma.extensions import db

# --- reports ---------------------------------------------------------------------------


@click.group("reports", cls=AppGroup, help="I totali dietro i rapporti dei coordinatori.")
def reports_group() -> None:
    pass


@reports_group.command("check-tallies")
def reports_check_tallies() -> None:
    """Confronta i totali progressivi con un ricalcolo dai dati; esce con 1 se differiscono."""
    from lgnetforma.services.reporting import tallies

    found = tallies.differences()
    for table, key, figure, stored, recounted in found[:50]:
        click.echo(f"{table} {key}: {figure} = {stored}, ricalcolato {recounted}")
    if found:
        _fail(
            f"{len(found)} totali non corrispondono ai dati: "
            "ricostruiscili con `lgnetforma reports rebuild-tallies`."
        )
        return
    click.echo("I totali corrispondono ai dati.")


@reports_group.command("rebuild-tallies")
def reports_rebuild_tallies() -> None:
    """Ricalcola da capo i totali progressivi (dopo dati scritti fuori dall'applicazione)."""
    from lgnetforma.services.reporting import tallies

    rows = tallies.rebuild()
    db.session.commit()
    click.echo(f"Totali ricostruiti: {rows} righe.")

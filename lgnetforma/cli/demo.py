"""`lgnetforma demo`: the demo accounts of `make run`."""

from __future__ import annotations

import click
from flask.cli import AppGroup

# --- demo ------------------------------------------------------------------------------


@click.group("demo", cls=AppGroup, help="Dati dimostrativi.")
def demo_group() -> None:
    pass


@demo_group.command("create")
def demo_create() -> None:
    """Crea (una volta) un account dimostrativo per ruolo e ne stampa le credenziali."""
    from lgnetforma.dev.demo import create_demo_accounts

    click.echo("Account dimostrativi (solo per prova, non usarli in produzione):")
    for account in create_demo_accounts():
        click.echo(f"  {account.role:<12} {account.email:<36} password: {account.password}")

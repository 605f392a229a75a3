"""`lgnetforma users`: accounts created from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail
from lgnetforma.extensions import db

# --- users -----------------------------------------------------------------------------


@click.group("users", cls=AppGroup, help="Gli account.")
def users_group() -> None:
    pass


@users_group.command("create")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(["operator", "trainer", "coordinator", "admin"]),
)
@click.option(
    "--comune",
    "comune_code",
    help="Codice ISTAT: il comune di un operatore o l'ambito di un coordinatore comunale.",
)
@click.option("--region", "region_code", help="Codice ISTAT della regione di un coordinatore.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_create(
    email: str,
    full_name: str,
    role: str,
    comune_code: str | None,
    region_code: str | None,
    password: str,
) -> None:
    """Crea un account confermato."""
    from lgnetforma.models import Comune, Region
    from lgnetforma.services.people.accounts import create_user
    from lgnetforma.services.platform.errors import ServiceError

    comune = region = None
    if comune_code:
        comune = db.session.scalar(db.select(Comune).filter_by(istat_code=comune_code))
        if comune is None:
            _fail(f"--comune: nessun comune con codice ISTAT {comune_code!r}.")
    if region_code:
        region = db.session.scalar(db.select(Region).filter_by(code=region_code.zfill(2)))
        if region is None:
            _fail(f"--region: nessuna regione con codice {region_code!r}.")
        if role != "coordinator":
            _fail("--region vale solo per i coordinatori.")
    try:
        user = create_user(
            email=email,
            full_name=full_name,
            role=role,
            password=password,
            comune=comune if role == "operator" else None,
            scope_region=region,
            scope_comune=comune if role == "coordinator" else None,
        )
    except ServiceError as error:
        db.session.rollback()
        _fail(f"--{error.field or 'email'}: {error}")
        return
    db.session.commit()
    click.echo(f"Creato {user.role} {user.email} (id {user.id}).")

"""`lgnetforma tokens`: personal access tokens for the JSON API."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from lgnetforma.cli.common import _fail
from lgnetforma.extensions import db

# --- tokens ----------------------------------------------------------------------------


@click.group("tokens", cls=AppGroup, help="I token personali per l'API JSON.")
def tokens_group() -> None:
    pass


def _token_owner(email: str):  # noqa: ANN202
    from lgnetforma.services.people.accounts import user_by_email

    user = user_by_email(email)
    if user is None or user.deleted_at is not None:
        _fail(f"--email: nessun account {email!r}.")
    return user


@tokens_group.command("create")
@click.option("--email", required=True, help="L'account titolare del token.")
@click.option("--name", default="riga di comando", show_default=True, help="Per riconoscerlo.")
def tokens_create(email: str, name: str) -> None:
    """Crea un token e lo stampa (solo questa volta) sullo standard output."""
    from lgnetforma.services.people.tokens import create_token
    from lgnetforma.services.platform.errors import ServiceError

    user = _token_owner(email)
    try:
        token, plaintext = create_token(user, name)
    except ServiceError as error:
        db.session.rollback()
        _fail(f"--{error.field or 'email'}: {error}")
        return
    db.session.commit()
    click.echo(
        f"Token {token.prefix}… creato per {user.email}: copialo ora, non sarà più mostrato.",
        err=True,
    )
    click.echo(plaintext)


@tokens_group.command("revoke")
@click.option("--email", required=True, help="L'account titolare del token.")
@click.option("--prefix", required=True, help="I primi caratteri del token (lgf_…).")
def tokens_revoke(email: str, prefix: str) -> None:
    """Revoca il token attivo che inizia con PREFIX."""
    from lgnetforma.services.people.tokens import (
        TOKEN_PREFIX,
        normalise_prefix,
        revoke_token,
        tokens_by_prefix,
    )

    user = _token_owner(email)
    if len(normalise_prefix(prefix)) < len(TOKEN_PREFIX) + 4:
        _fail(f"--prefix: indica almeno 4 caratteri dopo {TOKEN_PREFIX!r}.")
    matches = tokens_by_prefix(user, prefix)
    if not matches:
        _fail(f"--prefix: nessun token attivo di {user.email} inizia con {prefix!r}.")
    if len(matches) > 1:
        _fail(
            f"--prefix: {len(matches)} token attivi iniziano con {prefix!r}: "
            f"{', '.join(t.prefix for t in matches)}; indica più caratteri."
        )
    revoke_token(matches[0], user)
    db.session.commit()
    click.echo(f"Token {matches[0].prefix}… ({matches[0].name}) revocato.")

"""`lgnetforma spid …`: the SP's keys, the development test IdP, the trusted IdPs."""

from __future__ import annotations

import sys
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup


@click.group("spid", cls=AppGroup, help="SPID e CIE: chiavi, IdP di prova, IdP riconosciuti.")
def spid_group() -> None:
    pass


@spid_group.command("keys")
@click.option("--days", default=730, show_default=True, help="Validità del certificato.")
@click.option("--locality", default="Roma", show_default=True, help="Sede dell'ente (L=).")
def spid_keys(days: int, locality: str) -> None:
    """Crea la chiave e il certificato autofirmato del service provider (Avviso SPID 29 v3).

    Li scrive in SPID_KEY_DIR (predefinita instance/spid/), fuori da git; non sovrascrive
    chiavi esistenti.
    """
    from lgnetforma.services.people import identity
    from lgnetforma.services.people.spid_keys import create_keys

    config = current_app.config
    ipa_code = config.get("SPID_IPA_CODE") or ("test" if identity.test_idp_enabled() else "")
    if not ipa_code:
        click.echo("Errore: imposta SPID_IPA_CODE, il codice IPA dell'ente.", err=True)
        sys.exit(1)
    entity = identity.entity_id()
    organisation = config.get("SPID_ORG_NAME") or "LGNetforma"
    try:
        key, cert = create_keys(
            identity.key_dir(),
            entity_id=entity,
            organisation=organisation,
            ipa_code=ipa_code,
            locality=locality,
            common_name=config.get("SPID_ORG_DISPLAY_NAME") or organisation,
            days=days,
        )
    except FileExistsError as error:
        click.echo(f"Le chiavi esistono già ({error}): non le sovrascrivo.", err=True)
        sys.exit(1)
    click.echo(f"Chiave: {key}\nCertificato: {cert}\nEntity ID: {entity}")


@spid_group.command("test-idp")
def spid_test_idp() -> None:
    """Solo sviluppo: chiavi del service provider se mancano e IdP di prova riconosciuto."""
    from lgnetforma.dev import test_idp
    from lgnetforma.services.people import identity

    if not identity.test_idp_enabled():
        click.echo("Errore: l'IdP di prova richiede SPID_TEST_IDP=1 e non la produzione.", err=True)
        sys.exit(1)
    if not (identity.key_dir() / identity.KEY_FILE).is_file():
        current_app.config.setdefault("SPID_IPA_CODE", "test")
        from lgnetforma.services.people.spid_keys import create_keys

        create_keys(
            identity.key_dir(),
            entity_id=identity.entity_id(),
            organisation="LGNetforma (sviluppo)",
            ipa_code=current_app.config.get("SPID_IPA_CODE") or "test",
            locality="Roma",
            common_name="LGNetforma (sviluppo)",
            key_size=2048,
        )
    path = test_idp.install_metadata()
    click.echo(f"IdP di prova: {path}")


@spid_group.command("idps")
def spid_idps() -> None:
    """Elenca gli IdP riconosciuti (i metadati in SPID_IDP_METADATA_DIR)."""
    from lgnetforma.services.people import identity

    click.echo(f"Cartella: {identity.idp_metadata_dir()}")
    for idp in identity.identity_providers():
        click.echo(f"{idp['name']}\t{idp['entity_id']}\t{urlsplit(idp['entity_id']).hostname}")

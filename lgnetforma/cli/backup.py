"""`lgnetforma backup` and `lgnetforma restore`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from lgnetforma.cli.common import _audit, _fail
from lgnetforma.extensions import db

# --- backup and restore ----------------------------------------------------------------


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path))
@with_appcontext
def backup_command(file: Path) -> None:
    """Scrive in FILE un archivio portabile (ZIP) di tutto il database."""
    import time

    from lgnetforma.services.platform.archive import BackupError
    from lgnetforma.services.platform.backup import backup

    started = time.perf_counter()
    try:
        manifest = backup(file)
    except BackupError as error:
        _fail(str(error))
        return
    # Written after the archive, so the archive does not contain its own event.
    _audit("backup.created", details={"file": file.name, "rows": manifest.total_rows})
    db.session.commit()
    for table in manifest.tables:
        click.echo(f"  {table.name:<20} {table.rows:>10} righe")
    size = file.stat().st_size / 1_000_000
    click.echo(
        f"Backup scritto in {file}: {len(manifest.tables)} tabelle, {manifest.total_rows} righe, "
        f"{size:.1f} MB, revisione {manifest.alembic_revision}, "
        f"in {time.perf_counter() - started:.1f} s."
    )


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--unsigned",
    is_flag=True,
    help="Accetta un archivio senza firma valida (di un'altra installazione, o di prima "
    "della firma): solo se ne conosci l'origine.",
)
@with_appcontext
def restore_command(file: Path, unsigned: bool) -> None:
    """Ripristina l'archivio FILE su un database vuoto (SQLite o PostgreSQL)."""
    import time

    from lgnetforma.services.platform.archive import BackupError
    from lgnetforma.services.platform.restore import restore

    started = time.perf_counter()
    if unsigned:
        click.echo("Attenzione: --unsigned, la firma dell'archivio non viene verificata.", err=True)
    try:
        report = restore(file, unsigned=unsigned)
    except BackupError as error:
        _fail(str(error))
        return
    # The restored database is an exact copy of the archive (its checksums are compared
    # in the tests), so the restore is not appended to its audit trail: it goes to the log.
    current_app.logger.warning(
        "audit: backup.restored file=%r rows=%s archive_created_at=%r",
        file.name,
        report.total_rows,
        report.manifest.created_at,
    )
    for name, rows in report.rows.items():
        click.echo(f"  {name:<20} {rows:>10} righe")
    click.echo(
        f"Ripristino completato da {file}: {len(report.rows)} tabelle, {report.total_rows} "
        f"righe (archivio del {report.manifest.created_at}, da {report.manifest.dialect}, "
        f"revisione {report.manifest.alembic_revision})"
        + (", schema creato" if report.migrated else "")
        + f", in {time.perf_counter() - started:.1f} s."
    )

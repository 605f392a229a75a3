"""Restoring an archive on an empty database, in one transaction, parents first; any refusal
names the file, table and line and leaves the database as it was."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Connection,
    Integer,
    Table,
    func,
    select,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import JSON

from lgnetforma.extensions import db
from lgnetforma.services.platform.archive import (
    BATCH,
    SEEDED_CYCLE_CODE,
    BackupError,
    DBAPIError,
    RestoreReport,
    TableEntry,
    _codecs,
    _tables,
)
from lgnetforma.services.platform.archive_check import read_manifest
from lgnetforma.services.platform.backup import _revision

# --- restore ---------------------------------------------------------------------------


def restore(
    path: Path,
    *,
    progress: Callable[[str, int], None] | None = None,
    unsigned: bool = False,
) -> RestoreReport:
    """Restore the archive at ``path`` on an empty database.

    First the archive is checked entirely (``read_manifest``); then the target: if it has
    no schema, the migrations create it at the archive's revision; a schema at another
    revision, or any row in any table (beyond the cycle a fresh `db upgrade` creates), is
    refused. Then every row is inserted in one transaction, parents first, and the
    PostgreSQL sequences are moved past the restored ids. On any refusal or error the
    database is left as it was.
    """
    manifest = read_manifest(path, unsigned=unsigned)
    report = RestoreReport(manifest)
    report.migrated = _prepare_schema(manifest.alembic_revision)
    tables = {t.name: t for t in _tables()}
    order = [t for t in tables.values() if t.name in {e.name for e in manifest.tables}]
    entries = {e.name: e for e in manifest.tables}
    session = db.session
    try:
        connection = session.connection()
        present = set(sa_inspect(connection).get_table_names())
        absent = [t.name for t in order if t.name not in present]
        if absent:
            raise BackupError(
                _l(
                    "Nel database di destinazione mancano le tabelle %(names)s.",
                    names=", ".join(absent),
                )
            )
        existing = [t for t in tables.values() if t.name in present]
        not_in_archive = sorted(t.name for t in existing if t.name not in entries)
        if not_in_archive:
            raise BackupError(
                _l(
                    "L'archivio è incompleto: mancano le tabelle %(names)s.",
                    names=", ".join(not_in_archive),
                )
            )
        _lock_tables(connection, existing)
        _require_empty(connection, existing)
        connection.execute(tables["cycle"].delete())  # the seeded cycle, if any
        with zipfile.ZipFile(path) as archive:
            for table in order:
                entry = entries[table.name]
                report.rows[table.name] = _insert_table(archive, connection, table, entry)
                if progress is not None:
                    progress(table.name, report.rows[table.name])
        _check_foreign_keys(connection, entries)
        _reset_sequences(connection, existing)
        session.commit()
    except BackupError:
        session.rollback()
        raise
    except (
        SQLAlchemyError,
        DBAPIError,
        ValueError,
        TypeError,
        KeyError,
        zipfile.BadZipFile,
    ) as error:
        session.rollback()
        raise BackupError(
            _l(
                "Ripristino annullato, il database non è stato modificato: %(error)s",
                error=str(error).splitlines()[0][:500],
            )
        ) from error
    except BaseException:
        session.rollback()
        raise
    return report


def _prepare_schema(revision: str) -> bool:
    """Create the schema at ``revision`` if there is none; refuse one at another revision.
    Returns whether the schema was created."""
    with db.engine.connect() as connection:
        current = _revision(connection)
        application = {t.name for t in _tables()}
        present = set(sa_inspect(connection).get_table_names()) & application
    if current is None and not present:
        from alembic import command

        command.upgrade(current_app.extensions["migrate"].migrate.get_config(), revision)
        return True
    if current is None:
        raise BackupError(
            _l(
                "Il database di destinazione ha già delle tabelle ma nessuna revisione Alembic: "
                "usa un database vuoto."
            )
        )
    if current != revision:
        raise BackupError(
            _l(
                "Il database di destinazione è alla revisione %(target)s, l'archivio alla "
                "%(archive)s: usa un database vuoto, o porta lo schema alla revisione "
                "dell'archivio.",
                target=current,
                archive=revision,
            )
        )
    return False


def _lock_tables(connection: Connection, tables: list[Table]) -> None:
    """On PostgreSQL nobody else reads or writes the tables until the restore ends."""
    if connection.dialect.name != "postgresql" or not tables:
        return
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(t.name) for t in tables)
    connection.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))


def _require_empty(connection: Connection, tables: list[Table]) -> None:
    busy = []
    for table in tables:
        if table.name == "cycle":
            cycles = connection.execute(select(table.c.code, table.c.closed_at)).all()
            seeded = len(cycles) == 1 and cycles[0] == (SEEDED_CYCLE_CODE, None)
            if cycles and not seeded:
                busy.append(f"{table.name} ({len(cycles)})")
            continue
        count = connection.scalar(select(func.count()).select_from(table))
        if count:
            busy.append(f"{table.name} ({count})")
    if busy:
        raise BackupError(
            _l(
                "Il database di destinazione non è vuoto (righe presenti in: %(tables)s): "
                "il ripristino si fa solo su un database vuoto, niente è stato modificato.",
                tables=", ".join(busy),
            )
        )


def _records(archive: zipfile.ZipFile, entry: TableEntry, table: Table) -> Iterator[list[dict]]:
    """The rows of a data file decoded to Python values, in batches."""
    codecs = _codecs(table)
    batch: list[dict[str, Any]] = []
    with archive.open(entry.file) as member:
        for line in member:
            record = json.loads(line)
            batch.append({name: codecs[name][1](value) for name, value in record.items()})
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _insert_table(
    archive: zipfile.ZipFile, connection: Connection, table: Table, entry: TableEntry
) -> int:
    count = 0
    for batch in _records(archive, entry, table):
        savepoint = connection.begin_nested()
        try:
            if connection.dialect.name == "postgresql":
                _copy(connection, table, batch)
            else:
                connection.execute(table.insert(), batch)
            savepoint.commit()
        except (SQLAlchemyError, DBAPIError) as error:
            savepoint.rollback()
            raise _refused_row(connection, table, entry, count, batch, error) from error
        count += len(batch)
    if count != entry.rows:
        raise BackupError(
            _l("La tabella %(table)s non è stata ripristinata per intero.", table=table.name)
        )
    return count


def _check_foreign_keys(connection: Connection, entries: dict[str, TableEntry]) -> None:
    """PostgreSQL checks every reference as rows arrive; SQLite only when asked."""
    if connection.dialect.name != "sqlite":
        return
    for table, rowid, parent, _fk in connection.exec_driver_sql("PRAGMA foreign_key_check"):
        entry = entries.get(table)
        raise BackupError(
            _l(
                "%(file)s (tabella %(table)s), riga con id %(id)s: rimanda a una riga di "
                "%(parent)s che non esiste. Ripristino annullato, il database non è stato "
                "modificato.",
                file=entry.file if entry else table,
                table=table,
                id=rowid,
                parent=parent,
            )
        )


def _refused_row(
    connection: Connection,
    table: Table,
    entry: TableEntry,
    done: int,
    batch: list[dict[str, Any]],
    error: Exception,
) -> BackupError:
    """The database refused a batch (duplicate key, missing parent row…): find the first
    row it refuses, one at a time, and name its line and the database's reason."""
    for offset, row in enumerate(batch):
        savepoint = connection.begin_nested()
        try:
            connection.execute(table.insert(), [row])
        except (SQLAlchemyError, DBAPIError) as row_error:
            savepoint.rollback()
            return _refusal(entry, _("riga %(line)s", line=done + offset + 1), row_error)
        savepoint.commit()  # kept until the whole restore is rolled back
    where = _("righe %(first)s–%(last)s", first=done + 1, last=done + len(batch))
    return _refusal(entry, where, error)


def _refusal(entry: TableEntry, where: str, error: Exception) -> BackupError:
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()
    return BackupError(
        _l(
            "%(file)s (tabella %(table)s), %(where)s: il database rifiuta i dati "
            "(%(error)s). Ripristino annullato, il database non è stato modificato.",
            file=entry.file,
            table=entry.name,
            where=where,
            error=message[0][:300] if message else type(original).__name__,
        )
    )


def _copy(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL's COPY, much faster than INSERT for whole tables."""
    columns = [c for c in table.columns if c.name in rows[0]]
    json_columns = {c.name for c in columns if isinstance(c.type, JSON)}
    quote = connection.dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in columns)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [
                    json.dumps(row[c.name])
                    if c.name in json_columns and row.get(c.name) is not None
                    else row.get(c.name)
                    for c in columns
                ]
            )


def _reset_sequences(connection: Connection, tables: list[Table]) -> None:
    """After inserting explicit ids, PostgreSQL's sequences must move past them."""
    if connection.dialect.name != "postgresql":
        return
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) != 1 or not isinstance(keys[0].type, Integer):
            continue
        quote = connection.dialect.identifier_preparer.quote
        column = quote(keys[0].name)
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, :column), "  # noqa: S608 - our names
                f"COALESCE(MAX({column}), 1), MAX({column}) IS NOT NULL) FROM {quote(table.name)}"
            ),
            {"table": table.name, "column": keys[0].name},
        )

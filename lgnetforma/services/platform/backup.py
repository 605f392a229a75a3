"""Backups: the whole database in a portable, signed archive, streamed from one consistent
read transaction in constant memory; a failed backup leaves no partial file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Connection,
    Table,
    select,
)
from sqlalchemy import inspect as sa_inspect

from lgnetforma.extensions import db
from lgnetforma.models import utcnow
from lgnetforma.services.platform.archive import (
    BATCH,
    MANIFEST,
    SIGNATURE,
    BackupError,
    Manifest,
    TableEntry,
    _codecs,
    _data_file,
    _tables,
    sign,
)

# --- backup ----------------------------------------------------------------------------


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _read_snapshot(connection: Connection) -> None:
    """One consistent view of every table for the whole backup."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")  # pysqlite would not begin before a write


def backup(path: Path, *, progress: Callable[[str, int], None] | None = None) -> Manifest:
    """Write the whole database to ``path`` (an archive as described above).

    Rows are streamed in batches from one consistent read transaction (REPEATABLE READ on
    PostgreSQL), so memory stays flat whatever the size. The archive is written beside
    ``path`` and renamed into place at the end: a failed backup leaves no partial file.
    """
    path = Path(path)
    if path.is_dir():
        raise BackupError(_l("%(path)s è una cartella: indica il nome del file.", path=path))
    if not path.parent.is_dir():
        raise BackupError(_l("La cartella %(path)s non esiste.", path=path.parent))
    engine = db.engine
    tables = _tables()
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        with engine.connect().execution_options(**options) as connection:
            _read_snapshot(connection)
            revision = _revision(connection)
            if revision is None:
                raise BackupError(
                    _l(
                        "Il database non ha una revisione Alembic: esegui prima "
                        "'lgnetforma db upgrade'."
                    )
                )
            present = set(sa_inspect(connection).get_table_names())
            missing = [t.name for t in tables if t.name not in present]
            if missing:
                raise BackupError(
                    _l(
                        "Nel database mancano le tabelle %(names)s: esegui prima "
                        "'lgnetforma db upgrade'.",
                        names=", ".join(missing),
                    )
                )
            created_at = utcnow().isoformat()
            entries = []
            with zipfile.ZipFile(
                temporary, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True
            ) as archive:
                for table in tables:
                    entries.append(_write_table(archive, connection, table))
                    if progress is not None:
                        progress(table.name, entries[-1].rows)
                manifest = Manifest(created_at, revision, engine.dialect.name, entries)
                raw = json.dumps(manifest.as_dict(), indent=2, ensure_ascii=False).encode()
                archive.writestr(MANIFEST, raw)
                archive.writestr(SIGNATURE, sign(raw))
            connection.rollback()
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return manifest


def _write_table(archive: zipfile.ZipFile, connection: Connection, table: Table) -> TableEntry:
    codecs = _codecs(table)
    names = [c.name for c in table.columns]
    encoders = [codecs[name][0] for name in names]
    digest = hashlib.sha256()
    rows = 0
    query = select(table).order_by(*table.primary_key.columns)
    result = connection.execute(query.execution_options(yield_per=BATCH))
    with archive.open(_data_file(table.name), "w", force_zip64=True) as member:
        for partition in result.partitions():
            chunk = io.BytesIO()
            for row in partition:
                record = {
                    name: encode(value)
                    for name, encode, value in zip(names, encoders, row, strict=True)
                }
                chunk.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
                chunk.write(b"\n")
            data = chunk.getvalue()
            digest.update(data)
            member.write(data)
            rows += len(partition)
    return TableEntry(table.name, _data_file(table.name), rows, digest.hexdigest())

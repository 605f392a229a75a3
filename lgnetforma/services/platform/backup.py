"""Backups: the whole database in a portable archive, and its restore on an empty database.

The archive is a ZIP file holding ``manifest.json`` and one JSON Lines file per table
(``data/<table>.jsonl``, one row per line, the columns by name). Values are written the
same way whatever the database: timestamps as ISO 8601 in UTC, dates as ISO dates, binary
content in base64, JSON columns as JSON, booleans as booleans. So an archive taken on
SQLite restores on PostgreSQL and the other way round.

The manifest records the format, the creation time, the source database's dialect and
Alembic revision and, per table, its row count and the SHA-256 of its data file. It is signed
(``manifest.sig``: HMAC-SHA256 with BACKUP_SIGNING_KEY, by default SECRET_KEY), so the
signature covers every row. A restore checks all of it before touching the database — the
signature, every table of the archive's revision present, every value of the right type and
size — and refuses anything that does not add up, naming the table and the line. Sizes are
bounded and every file is read as a stream, so a crafted archive cannot exhaust memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.types import JSON

from lgnetforma.extensions import db
from lgnetforma.models import utcnow
from lgnetforma.services.platform.errors import ServiceError

FORMAT = "lgnetforma-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
SIGNATURE_SCHEME = "hmac-sha256:"
# A real manifest is a few kilobytes; a line is one row (course media in base64 the largest).
MAX_MANIFEST_BYTES = 1_000_000
MAX_LINE_BYTES = 64 * 1024 * 1024
BATCH = 2000
# What a fresh `lgnetforma db upgrade` writes by itself (migration 0001): a database holding
# only this is empty for a restore, which replaces it with the archive's cycles.
SEEDED_CYCLE_CODE = "2025-2026"


try:  # COPY goes through psycopg's own cursor: its errors are not SQLAlchemy's
    from psycopg import Error as DBAPIError
except ImportError:  # pragma: no cover - psycopg is a dependency
    DBAPIError = SQLAlchemyError  # type: ignore[misc,assignment]


class BackupError(ServiceError):
    """A backup that cannot be written, or an archive that is refused."""


@dataclass(frozen=True)
class TableEntry:
    name: str
    file: str
    rows: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    created_at: str
    alembic_revision: str
    dialect: str
    tables: list[TableEntry]

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "alembic_revision": self.alembic_revision,
            "dialect": self.dialect,
            "tables": [
                {"name": t.name, "file": t.file, "rows": t.rows, "sha256": t.sha256}
                for t in self.tables
            ],
        }


@dataclass
class RestoreReport:
    manifest: Manifest
    migrated: bool = False  # the schema was created first
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


# --- values ----------------------------------------------------------------------------

Codec = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _codecs(table: Table) -> dict[str, tuple[Codec, Codec]]:
    """Per column: (encode to JSON, decode from JSON), chosen by the column's type."""
    codecs: dict[str, tuple[Codec, Codec]] = {}
    for column in table.columns:
        kind = column.type
        if isinstance(kind, DateTime) or isinstance(getattr(kind, "impl", None), DateTime):
            codecs[column.name] = (_encode_datetime, _decode_datetime)
        elif isinstance(kind, Date):
            codecs[column.name] = (_encode_date, _decode_date)
        elif isinstance(kind, LargeBinary):
            codecs[column.name] = (_encode_bytes, _decode_bytes)
        else:  # strings, numbers, booleans and JSON are JSON already
            codecs[column.name] = (_identity, _identity)
    return codecs


def _encode_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def _decode_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _encode_date(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _decode_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value is not None else None


def _encode_bytes(value: bytes | memoryview | None) -> str | None:
    return base64.b64encode(bytes(value)).decode("ascii") if value is not None else None


def _decode_bytes(value: str | None) -> bytes | None:
    return base64.b64decode(value, validate=True) if value is not None else None


def _tables() -> list[Table]:
    """Every table of the application, parents before children."""
    return list(db.metadata.sorted_tables)


def _data_file(table: str) -> str:
    return f"data/{table}.jsonl"


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


# --- checking an archive ---------------------------------------------------------------


def _signing_key() -> bytes:
    config = current_app.config
    return str(config.get("BACKUP_SIGNING_KEY") or config["SECRET_KEY"]).encode()


def sign(manifest: bytes) -> str:
    """The signature of a manifest: HMAC-SHA256 with the signing key."""
    return SIGNATURE_SCHEME + hmac.new(_signing_key(), manifest, hashlib.sha256).hexdigest()


def _check_signature(archive: zipfile.ZipFile, raw: bytes) -> None:
    try:
        info = archive.getinfo(SIGNATURE)
        stored = archive.read(info).decode("ascii").strip() if info.file_size < 200 else ""
    except (KeyError, UnicodeDecodeError):
        stored = ""
    if not hmac.compare_digest(stored.encode(), sign(raw).encode()):
        raise BackupError(
            _l(
                "La firma dell'archivio manca o non corrisponde: non è stato creato da questa "
                "installazione (chiave BACKUP_SIGNING_KEY, o SECRET_KEY) oppure è stato "
                "modificato. Se ne conosci l'origine e ti fidi, ripeti con --unsigned."
            )
        )


def read_manifest(path: Path, *, unsigned: bool = False) -> Manifest:
    """Check the whole archive and return its manifest; raise BackupError on any problem.

    Nothing is written anywhere: the signature (unless ``unsigned``), the ZIP structure, the
    manifest, every table of the current schema present, every data file (present, CRC,
    SHA-256, row count, each line a JSON object with known columns and values of the right
    type and size) and the Alembic revision (one this version of the application knows).
    """
    path = Path(path)
    if path.is_dir():
        raise BackupError(_l("%(path)s è una cartella, non un archivio di backup.", path=path))
    if not path.is_file():
        raise BackupError(_l("Il file %(path)s non esiste.", path=path))
    try:
        with zipfile.ZipFile(path) as archive:
            raw = _read_manifest_bytes(archive)
            if not unsigned:
                _check_signature(archive, raw)
            manifest = _parse_manifest(raw)
            tables = {t.name: t for t in _tables()}
            if manifest.alembic_revision == _head_revision():
                _check_complete(manifest, tables)
            for entry in manifest.tables:
                if entry.name not in tables:
                    raise BackupError(
                        _l(
                            "L'archivio contiene la tabella %(name)s, che questa versione di "
                            "LGNetforma non conosce.",
                            name=entry.name,
                        )
                    )
                _check_data_file(archive, entry, tables[entry.name])
    except zipfile.BadZipFile as error:
        raise BackupError(
            _l(
                "%(path)s non è un archivio ZIP integro (troncato o danneggiato): %(error)s.",
                path=path.name,
                error=error,
            )
        ) from error
    _check_revision(manifest.alembic_revision)
    return manifest


def _read_manifest_bytes(archive: zipfile.ZipFile) -> bytes:
    try:
        info = archive.getinfo(MANIFEST)
    except KeyError as error:
        raise BackupError(
            _l(
                "Nell'archivio manca %(name)s: non è un backup di LGNetforma, o è danneggiato.",
                name=MANIFEST,
            )
        ) from error
    with archive.open(info) as member:
        raw = member.read(MAX_MANIFEST_BYTES + 1)  # never trust the declared size
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BackupError(
            _l(
                "%(name)s supera %(max)s byte: non è un manifesto di LGNetforma.",
                name=MANIFEST,
                max=MAX_MANIFEST_BYTES,
            )
        )
    return raw


def _check_complete(manifest: Manifest, tables: dict[str, Table]) -> None:
    """An archive holds every table of its revision: a partial one would restore a
    database without, say, its cycles."""
    missing = sorted(set(tables) - {t.name for t in manifest.tables})
    if missing:
        raise BackupError(
            _l(
                "L'archivio è incompleto: mancano le tabelle %(names)s.",
                names=", ".join(missing),
            )
        )


def _parse_manifest(raw: bytes) -> Manifest:
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError("format")
        if data.get("format_version") != FORMAT_VERSION:
            raise BackupError(
                _l(
                    "Formato di backup %(version)s non supportato da questa versione di "
                    "LGNetforma (supporta il formato %(supported)s).",
                    version=data.get("format_version"),
                    supported=FORMAT_VERSION,
                )
            )
        tables = [
            TableEntry(str(t["name"]), str(t["file"]), int(t["rows"]), str(t["sha256"]))
            for t in data["tables"]
        ]
        manifest = Manifest(
            str(data["created_at"]), str(data["alembic_revision"]), str(data["dialect"]), tables
        )
    except BackupError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise BackupError(
            _l(
                "%(name)s non è leggibile o non è nel formato di LGNetforma (%(error)s).",
                name=MANIFEST,
                error=error,
            )
        ) from error
    names = [t.name for t in tables]
    if len(set(names)) != len(names):
        raise BackupError(_l("%(name)s elenca una tabella più volte.", name=MANIFEST))
    return manifest


def _check_data_file(archive: zipfile.ZipFile, entry: TableEntry, table: Table) -> None:
    columns = {c.name for c in table.columns}
    checks = _value_checks(table)
    digest = hashlib.sha256()
    rows = 0
    try:
        with archive.open(entry.file) as member:
            for line in _lines(member, entry.file):
                digest.update(line)
                rows += 1
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise BackupError(
                        _l(
                            "%(file)s, riga %(line)s: non è JSON valido.",
                            file=entry.file,
                            line=rows,
                        )
                    ) from error
                if not isinstance(record, dict) or not set(record) <= columns:
                    unknown = sorted(set(record) - columns) if isinstance(record, dict) else []
                    raise BackupError(
                        _l(
                            "%(file)s, riga %(line)s: non è una riga della tabella %(table)s "
                            "(colonne sconosciute: %(unknown)s).",
                            file=entry.file,
                            line=rows,
                            table=table.name,
                            unknown=", ".join(unknown) or "–",
                        )
                    )
                _check_values(checks, record, entry.file, rows)
    except KeyError as error:
        raise BackupError(
            _l(
                "Nell'archivio manca il file %(file)s della tabella %(table)s.",
                file=entry.file,
                table=entry.name,
            )
        ) from error
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise BackupError(
            _l(
                "Il file %(file)s dell'archivio è danneggiato (%(error)s).",
                file=entry.file,
                error=error,
            )
        ) from error
    if digest.hexdigest() != entry.sha256:
        raise BackupError(
            _l(
                "Il file %(file)s è stato alterato o è danneggiato: la sua impronta SHA-256 non "
                "corrisponde a quella del manifesto.",
                file=entry.file,
            )
        )
    if rows != entry.rows:
        raise BackupError(
            _l(
                "Il file %(file)s contiene %(found)s righe, il manifesto ne dichiara %(declared)s.",
                file=entry.file,
                found=rows,
                declared=entry.rows,
            )
        )


def _lines(member: IO[bytes], file: str) -> Iterator[bytes]:
    """The lines of a data file, each at most MAX_LINE_BYTES (read as a stream)."""
    number = 0
    while True:
        line = member.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise BackupError(
                _l(
                    "%(file)s, riga %(line)s: la riga supera %(max)s byte.",
                    file=file,
                    line=number,
                    max=MAX_LINE_BYTES,
                )
            )
        yield line


ValueCheck = Callable[[Any], str | None]


def _value_checks(table: Table) -> dict[str, tuple[bool, ValueCheck]]:
    """Per column: (a value is required, the check of a present value → problem or None)."""
    codecs = _codecs(table)
    checks: dict[str, tuple[bool, ValueCheck]] = {}
    for column in table.columns:
        kind = column.type
        impl = getattr(kind, "impl", kind)
        required = not column.nullable and column.default is None and column.server_default is None
        required = required and not (column.primary_key and isinstance(impl, Integer))
        decode = codecs[column.name][1]
        if isinstance(impl, Boolean):
            check: ValueCheck = _expect_bool
        elif isinstance(impl, Integer):
            check = _expect_int
        elif isinstance(impl, Float | Numeric):
            check = _expect_number
        elif isinstance(impl, Date | DateTime | LargeBinary):
            check = _expect_decodable(decode)
        elif isinstance(impl, JSON):
            check = _expect_json
        elif isinstance(impl, String):
            check = _expect_text(impl.length, getattr(impl, "enums", None))
        else:
            check = _expect_anything
        checks[column.name] = (required, check)
    return checks


def _check_values(
    checks: dict[str, tuple[bool, ValueCheck]], record: dict[str, Any], file: str, line: int
) -> None:
    for name, (required, check) in checks.items():
        value = record.get(name)
        problem = (
            (_("valore obbligatorio mancante") if required else None)
            if value is None
            else check(value)
        )
        if problem:
            raise BackupError(
                _l(
                    "%(file)s, riga %(line)s, colonna %(column)s: %(problem)s.",
                    file=file,
                    line=line,
                    column=name,
                    problem=problem,
                )
            )


def _expect_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else _("serve true o false")


def _expect_int(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return _("serve un numero intero")
    if not -(2**63) <= value < 2**63:
        return _("numero fuori dall'intervallo ammesso")
    return None


def _expect_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _("serve un numero")
    return None


def _expect_decodable(decode: Codec) -> ValueCheck:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return _("serve un testo (data ISO 8601 o base64)")
        try:
            decode(value)
        except (ValueError, TypeError):
            return _("valore non valido: %(value)s", value=value[:40])
        return None

    return check


def _expect_json(value: Any) -> str | None:
    return _("il testo contiene il carattere NUL") if "\\u0000" in json.dumps(value) else None


def _expect_text(length: int | None, enums: Any) -> ValueCheck:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return _("serve un testo")
        if "\x00" in value:
            return _("il testo contiene il carattere NUL")
        if length is not None and len(value) > length:
            return _(
                "testo di %(found)s caratteri, al massimo %(max)s", found=len(value), max=length
            )
        if enums and value not in enums:
            return _("valore non ammesso: %(value)s", value=value[:40])
        return None

    return check


def _expect_anything(value: Any) -> str | None:
    return None


def _head_revision() -> str | None:
    return _script().get_current_head()


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def _check_revision(revision: str) -> None:
    try:
        known = _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        known = False
    if not known:
        raise BackupError(
            _l(
                "L'archivio viene da un database alla revisione %(revision)s, che questa "
                "versione di LGNetforma non conosce: usa la versione che l'ha creato, o una "
                "più recente.",
                revision=revision,
            )
        )


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

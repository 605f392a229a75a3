"""Checking an archive before anything is written: signature, completeness, every line a row
of its table with values of the right type and size, checksums and the Alembic revision;
sizes bounded and files read as streams."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
)
from sqlalchemy.types import JSON

from lgnetforma.services.platform.archive import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    MAX_LINE_BYTES,
    MAX_MANIFEST_BYTES,
    SIGNATURE,
    BackupError,
    Codec,
    Manifest,
    TableEntry,
    _codecs,
    _tables,
    sign,
)


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

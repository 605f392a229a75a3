"""The backup archive's format: a ZIP with a signed manifest.json and one JSON Lines file per
table, values written the same way whatever the database (see lgnetforma backup)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    Date,
    DateTime,
    LargeBinary,
    Table,
)
from sqlalchemy.exc import SQLAlchemyError

from lgnetforma.extensions import db
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


def _signing_key() -> bytes:
    config = current_app.config
    return str(config.get("BACKUP_SIGNING_KEY") or config["SECRET_KEY"]).encode()


def sign(manifest: bytes) -> str:
    """The signature of a manifest: HMAC-SHA256 with the signing key."""
    return SIGNATURE_SCHEME + hmac.new(_signing_key(), manifest, hashlib.sha256).hexdigest()

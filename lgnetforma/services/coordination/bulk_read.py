"""Bulk enrolment, step 1: reading the uploaded CSV (encoding, delimiter, headers, size
limits) into rows, with what the later steps return."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from lgnetforma.models import (
    Comune,
    Course,
    User,
)
from lgnetforma.services.platform.errors import ServiceError

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
# Header names, Italian or English, as people write them.
HEADERS = {
    "nome": "name",
    "nome e cognome": "name",
    "name": "name",
    "full name": "name",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "comune": "comune",
    "municipality": "comune",
    "corsi": "courses",
    "corso": "courses",
    "courses": "courses",
    "course": "courses",
}
COLUMNS = ("name", "email", "comune", "courses")
COLUMN_LABELS = {"name": "nome", "email": "email", "comune": "comune", "courses": "corsi"}
SLUG_SEPARATORS = re.compile(r"[\s,;|]+")
_IN_CHUNK = 900  # bound parameters per IN (...), well under every database's limit


class BulkFileError(ServiceError):
    """The file as a whole cannot be used; nothing was checked row by row."""


@dataclass(frozen=True)
class CsvRow:
    line: int
    name: str
    email: str
    comune: str
    courses: str


@dataclass(frozen=True)
class BadRow:
    line: int
    email: str
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True)
class GoodRow:
    line: int
    name: str
    email: str
    comune: Comune
    courses: tuple[Course, ...]
    # The operator who already has an account, or None when one will be created.
    user: User | None
    # The enrolments to create (the others exist already).
    new_courses: tuple[Course, ...]


@dataclass(frozen=True)
class BulkPreview:
    content_hash: str
    rows_total: int
    good: tuple[GoodRow, ...]
    bad: tuple[BadRow, ...]

    @property
    def new_accounts(self) -> int:
        return sum(1 for row in self.good if row.user is None)

    @property
    def existing_accounts(self) -> int:
        return sum(1 for row in self.good if row.user is not None)

    @property
    def new_enrolments(self) -> int:
        return sum(len(row.new_courses) for row in self.good)

    @property
    def existing_enrolments(self) -> int:
        return sum(len(row.courses) - len(row.new_courses) for row in self.good)

    @property
    def has_changes(self) -> bool:
        return bool(self.new_accounts or self.new_enrolments)


@dataclass(frozen=True)
class BulkResult:
    upload_id: int
    rows_total: int
    rows_rejected: int
    accounts_created: int
    enrolments_created: int
    accounts_existing: int
    enrolments_existing: int
    mails_queued: int  # the invitations, in the outbox: the worker sends them


# --- reading the file ------------------------------------------------------------------


def decode_upload(data: bytes) -> str:
    """The text of an uploaded file: UTF-8 with or without BOM, at most MAX_BYTES."""
    if len(data) > MAX_BYTES:
        raise BulkFileError(_too_big())
    if not data.strip(b" \t\r\n\xef\xbb\xbf"):
        raise BulkFileError(_l("Il file è vuoto."))
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise BulkFileError(
            _l(
                "Il file è un foglio di calcolo, non un CSV: in Excel o LibreOffice usa "
                "«Salva con nome» e scegli il formato «CSV UTF-8»."
            )
        )
    if b"\x00" in data:
        raise BulkFileError(_l("Il file non è un CSV: contiene dati binari."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BulkFileError(
            _l(
                "Il file non è codificato in UTF-8: in Excel o LibreOffice salvalo con il "
                "formato «CSV UTF-8»."
            )
        ) from exc


def normalise_text(text: str) -> str:
    """Without BOM and with \\n line ends, as a browser may send CRLF back."""
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def content_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def read_rows(text: str) -> list[CsvRow]:
    """The rows of the file; raise BulkFileError when the file as a whole is unusable."""
    text = normalise_text(text)
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise BulkFileError(_too_big())
    if "\x00" in text:
        raise BulkFileError(_l("Il file non è un CSV: contiene dati binari."))
    first_line = next((line for line in text.split("\n") if line.strip()), None)
    if first_line is None:
        raise BulkFileError(_l("Il file è vuoto."))
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(first_line))
    try:
        return _rows(reader)
    except csv.Error as exc:
        raise BulkFileError(
            _l(
                "Il file non è un CSV leggibile (riga %(line)s): controlla le virgolette.",
                line=reader.line_num,
            )
        ) from exc


def _delimiter(header: str) -> str:
    counts = {sep: header.count(sep) for sep in (";", ",", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _header_key(cell: str) -> str:
    return " ".join(cell.strip().strip('"').lower().split())


def _rows(reader: Iterator[list[str]]) -> list[CsvRow]:
    header: list[str] | None = None
    for values in reader:
        if any(v.strip() for v in values):
            header = values
            break
    if header is None:
        raise BulkFileError(_l("Il file è vuoto."))
    index: dict[str, int] = {}
    for position, cell in enumerate(header):
        column = HEADERS.get(_header_key(cell))
        if column is not None:
            index.setdefault(column, position)
    missing = [COLUMN_LABELS[c] for c in COLUMNS if c not in index]
    if missing:
        raise BulkFileError(
            _l(
                "Mancano le colonne: %(missing)s. La prima riga deve contenere le intestazioni "
                "nome, email, comune, corsi (oppure name, email, comune, courses).",
                missing=", ".join(missing),
            )
        )
    rows: list[CsvRow] = []
    previous_end = reader.line_num  # type: ignore[attr-defined]
    for values in reader:
        line = previous_end + 1
        previous_end = reader.line_num  # type: ignore[attr-defined]
        if not any(v.strip() for v in values):
            continue
        if len(rows) == MAX_ROWS:
            raise BulkFileError(
                _l(
                    "Il file ha più di %(max)s righe: dividilo in più file.",
                    max=f"{MAX_ROWS:,}".replace(",", "."),
                )
            )
        cells = {c: values[i].strip() if i < len(values) else "" for c, i in index.items()}
        rows.append(CsvRow(line=line, **cells))
    if not rows:
        raise BulkFileError(
            _l("Il file contiene solo l'intestazione: non c'è nessun operatore da iscrivere.")
        )
    return rows


def _too_big() -> str:
    return str(_l("Il file supera i 2 MB: dividilo in più file."))

"""Spreadsheet exports for Italian Excel: CSV (UTF-8 with BOM, ';') and XLSX.

Both are produced row by row, so a 50,000-row export uses flat memory. Text cells that a
spreadsheet would run as a formula are neutralised.

Rates are ``Percent`` values (XLSX: a number with a percent format; CSV: "71,4" under a
header that says "%"), months are ``Month`` values (XLSX: a real date shown as a month;
CSV: "gen 2025"), times are shown in Europe/Rome (XLSX: real date cells).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from lgnetforma.i18n import TIME_ZONE

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
MIN_WIDTH, MAX_WIDTH = 10, 50


@dataclass(frozen=True)
class Percent:
    """A rate between 0 and 1, exported as a percentage with one decimal."""

    value: float


@dataclass(frozen=True)
class Month:
    """A calendar month: ``first`` its first day, ``label`` its name ("gen 2025")."""

    first: date
    label: str


def local_time(value: datetime) -> datetime:
    """A stored time (UTC, naive or aware) as the wall-clock time in Rome, naive."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(TIME_ZONE).replace(tzinfo=None)


def neutralise(value: Any) -> Any:
    """A text cell starting like a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Percent):
        return f"{value.value * 100:.1f}".replace(".", ",")
    if isinstance(value, Month):
        return value.label
    if isinstance(value, bool):
        return "sì" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".").replace(".", ",")
    if isinstance(value, datetime):
        return local_time(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(neutralise(value))


def csv_lines(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV file as a stream of text chunks of about 500 rows, BOM first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    buffer.write(BOM)
    writer.writerow([neutralise(h) for h in headers])
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell_text(v) for v in row])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def xlsx_file(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> IO[bytes]:
    """An XLSX workbook written in openpyxl's write-only mode to a temporary file: a bold,
    frozen header row with an autofilter, columns as wide as their headers (within
    limits), typed cells."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31] or "Dati")
    sheet.freeze_panes = "A2"
    for n, header in enumerate(headers, 1):
        width = min(max(len(str(header)) + 4, MIN_WIDTH), MAX_WIDTH)
        sheet.column_dimensions[get_column_letter(n)].width = width
    bold = Font(bold=True)
    header_cells = []
    for header in headers:
        cell = WriteOnlyCell(sheet, value=neutralise(header))
        cell.font = bold
        header_cells.append(cell)
    sheet.append(header_cells)
    count = 0
    for count, row in enumerate(rows, 1):  # noqa: B007 - the count is used after the loop
        sheet.append([_xlsx_cell(sheet, v) for v in row])
    if headers:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{count + 1}"
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the response, closed by it
    workbook.save(handle)
    handle.seek(0)
    return handle


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    if isinstance(value, Percent):
        cell = WriteOnlyCell(sheet, value=value.value)
        cell.number_format = "0.0%"
        return cell
    if isinstance(value, Month):
        cell = WriteOnlyCell(sheet, value=value.first)
        cell.number_format = "mmm yyyy"
        return cell
    if isinstance(value, datetime):  # Excel has no time zones: the time in Rome
        cell = WriteOnlyCell(sheet, value=local_time(value))
        cell.number_format = "dd/mm/yyyy hh:mm"
        return cell
    if isinstance(value, date):
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "dd/mm/yyyy"
        return cell
    return _xlsx_value(value)


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        # XML cannot hold C0 controls (an ESC in a stored name made openpyxl raise): they
        # become U+FFFD, so the export never fails on what the database holds.
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return neutralise(value)

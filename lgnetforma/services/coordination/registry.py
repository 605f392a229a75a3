"""The comuni registry: import and refresh from the ISTAT file, look-ups."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Cycle, Province, Region
from lgnetforma.paths import PACKAGE_ROOT
from lgnetforma.services.platform.cycles import count_eligible_comuni, eligible_condition
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.text import has_control_characters

DEFAULT_COMUNI_FILE = PACKAGE_ROOT / "data" / "comuni_istat_2023.csv"
COLUMNS = (
    "istat_code",
    "name",
    "cadastral_code",
    "province_code",
    "province",
    "province_name",
    "region_code",
    "region",
    "population",
)
_DIGITS = {"istat_code": 6, "province_code": 3, "region_code": 2}


@dataclass(frozen=True)
class ComuneRow:
    line: int
    istat_code: str
    name: str
    cadastral_code: str
    province_code: str
    province: str
    province_name: str
    region_code: str
    region: str
    population: int | None


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    total: int = 0
    eligible: int = 0
    missing_from_file: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


class RegistryFileError(ServiceError):
    """The file cannot be imported; ``problems`` lists every bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems[:5]))
        self.problems = problems


def read_comuni_csv(text: str) -> list[ComuneRow]:
    """Parse and check the whole file; raise RegistryFileError listing every bad line.

    Line numbers are the file's own, the header being line 1.
    """
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise RegistryFileError(["riga 1: il file è vuoto"])
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise RegistryFileError([f"riga 1: mancano le colonne {', '.join(missing)}"])
    index = {c: header.index(c) for c in COLUMNS}
    rows: list[ComuneRow] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) < len(header):
            problems.append(
                f"riga {line}: {len(values)} valori invece di {len(header)} (colonne mancanti)"
            )
            continue
        record = {c: values[i].strip() for c, i in index.items()}
        line_problems = _check_record(record)
        code = record["istat_code"]
        if code in seen:
            line_problems.append(f"codice ISTAT {code} duplicato (già alla riga {seen[code]})")
        seen.setdefault(code, line)
        if line_problems:
            problems.extend(f"riga {line}: {p}" for p in line_problems)
            continue
        population = record.pop("population")
        rows.append(
            ComuneRow(line=line, population=int(population) if population else None, **record)
        )
    if problems:
        raise RegistryFileError(problems)
    if not rows:
        raise RegistryFileError(["il file non contiene nessun comune"])
    return rows


def _check_record(record: dict[str, str]) -> list[str]:
    problems = []
    for column, digits in _DIGITS.items():
        if not re.fullmatch(rf"\d{{{digits}}}", record[column]):
            problems.append(
                f"{column} {record[column]!r} non valido: servono {digits} cifre (es. 058091)"
                if column == "istat_code"
                else f"{column} {record[column]!r} non valido: servono {digits} cifre"
            )
    for column in ("name", "province", "province_name", "region"):
        if not record[column]:
            problems.append(f"{column} vuoto")
    for column, value in record.items():
        if has_control_characters(value):
            # e.g. a name mis-encoded from Windows-1252 ("Števerjan" read as "\x8ateverjan")
            problems.append(
                f"{column} {value!r} contiene caratteri di controllo: controlla la codifica "
                "del file (serve UTF-8)"
            )
    population = record["population"]
    if population and not population.isdigit():
        problems.append(f"popolazione {population!r} non numerica")
    return problems


def import_comuni(path: Path | None = None, *, cycle: Cycle) -> ImportReport:
    """Load or refresh the registry in one transaction; a bad file changes nothing."""
    path = path or DEFAULT_COMUNI_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryFileError([f"impossibile leggere {path}: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise RegistryFileError([f"{path} non è un file di testo UTF-8"]) from exc
    rows = read_comuni_csv(text)
    try:
        report = _apply(rows, cycle)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def _apply(rows: Iterable[ComuneRow], cycle: Cycle) -> ImportReport:
    report = ImportReport()
    regions = {r.code: r for r in db.session.scalars(select(Region))}
    provinces = {p.code: p for p in db.session.scalars(select(Province))}
    comuni = {c.istat_code: c for c in db.session.scalars(select(Comune))}
    seen: set[str] = set()
    for row in rows:
        region = regions.get(row.region_code)
        if region is None:
            region = regions[row.region_code] = Region(code=row.region_code, name=row.region)
            db.session.add(region)
        elif region.name != row.region:
            region.name = row.region
        province = provinces.get(row.province_code)
        if province is None:
            province = Province(
                code=row.province_code,
                abbreviation=row.province,
                name=row.province_name,
                region=region,
            )
            provinces[row.province_code] = province
            db.session.add(province)
        else:
            _set(province, abbreviation=row.province, name=row.province_name, region=region)
        db.session.flush()
        values = {
            "name": row.name,
            "cadastral_code": row.cadastral_code,
            "province_id": province.id,
            "region_id": region.id,
            "population": row.population,
        }
        comune = comuni.get(row.istat_code)
        if comune is None:
            db.session.add(Comune(istat_code=row.istat_code, **values))
            report.created += 1
        elif _set(comune, **values):
            report.updated += 1
        else:
            report.unchanged += 1
        seen.add(row.istat_code)
    db.session.flush()
    report.missing_from_file = sorted(set(comuni) - seen)
    report.total = db.session.scalar(select(func.count(Comune.id))) or 0
    report.eligible = count_eligible_comuni(cycle)
    return report


def _set(obj: object, **values: object) -> bool:
    """Assign only the values that differ; return whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def find_comune(text: str) -> list[Comune]:
    """Resolve what a person typed: an ISTAT code, a label "Nome (PR) – code",
    "Nome (PR)" or an exact name (case-insensitive). Returns every match."""
    text = " ".join(text.split())
    if not text:
        return []
    query = select(Comune).options(joinedload(Comune.province))
    code = re.search(r"(?<!\d)(\d{6})\s*$", text)
    if code:
        return list(db.session.scalars(query.where(Comune.istat_code == code.group(1))))
    with_province = re.fullmatch(r"(.+?)\s*\(([A-Za-z]{2})\)", text)
    if with_province:
        name, abbreviation = with_province.groups()
        return list(
            db.session.scalars(
                query.join(Comune.province).where(
                    func.lower(Comune.name) == name.lower(),
                    func.upper(Province.abbreviation) == abbreviation.upper(),
                )
            )
        )
    return list(db.session.scalars(query.where(func.lower(Comune.name) == text.lower()).limit(20)))


def eligible_comuni(cycle: Cycle) -> list[Comune]:
    """Every comune eligible in ``cycle``, by name."""
    return list(
        db.session.scalars(
            select(Comune)
            .options(joinedload(Comune.province))
            .where(eligible_condition(cycle))
            .order_by(Comune.name)
        )
    )

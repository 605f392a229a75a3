"""Bulk enrolment: a CSV of operators and their courses, checked in a preview, then
applied in one transaction.

The file: a header line (Italian or English names), then one operator per line with
name, email, comune (ISTAT code or exact name) and course slugs (separated by spaces,
commas or "|"). Line numbers are the file's own, the header being line 1.

Everything the checks need is loaded in a few queries for the whole file, never per row.
Confirming checks the file again from scratch: the preview is never trusted.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from lgnetforma.extensions import db
from lgnetforma.models import (
    BulkUpload,
    Comune,
    Course,
    Cycle,
    Enrolment,
    OutboundMail,
    Province,
    Role,
    User,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.people.accounts import (
    MAX_NAME_LENGTH,
    check_comune_eligible,
    check_email,
    normalise_email,
    reset_token,
)
from lgnetforma.services.platform.cycles import ensure_cycle_open
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import queue_mail
from lgnetforma.services.platform.text import has_control_characters
from lgnetforma.services.reporting import tallies

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


# --- checking the rows -----------------------------------------------------------------


def preview(text: str, *, scope: Scope, cycle: Cycle) -> BulkPreview:
    """Check every row of the file; change nothing."""
    if cycle.closed_at is not None:
        raise BulkFileError(_l("Il ciclo %(cycle)s è chiuso.", cycle=cycle.code))
    rows = read_rows(text)
    courses = _published_courses(cycle)
    comuni = _ComuneIndex.load(row.comune for row in rows)
    emails = {normalise_email(row.email) for row in rows if row.email}
    users = _users_by_email(emails)
    enrolled = _enrolled_courses([u.id for u in users.values()], cycle)

    good: list[GoodRow] = []
    bad: list[BadRow] = []
    first_line: dict[str, int] = {}
    for row in rows:
        reasons: list[str] = []
        name = " ".join(row.name.split())
        if not name:
            reasons.append(_("nome mancante"))
        elif len(name) > MAX_NAME_LENGTH:
            reasons.append(
                _("nome troppo lungo (al massimo %(max)s caratteri)", max=MAX_NAME_LENGTH)
            )
        elif has_control_characters(name):
            reasons.append(_("nome con caratteri di controllo o invisibili"))

        email = normalise_email(row.email)
        email_ok = False
        if not email:
            reasons.append(_("email mancante"))
        elif not _valid_email(email):
            reasons.append(_("indirizzo email non valido"))
        elif email in first_line:
            reasons.append(
                _("email ripetuta nel file (già alla riga %(line)s)", line=first_line[email])
            )
        else:
            first_line[email] = row.line
            email_ok = True

        comune, comune_problem = comuni.resolve(row.comune)
        if comune is None:
            reasons.append(comune_problem)
        elif not scope.includes(comune):
            reasons.append(_("comune fuori dal tuo territorio: %(name)s", name=comune.name))
            comune = None
        else:
            try:
                check_comune_eligible(comune, cycle)
            except ServiceError as error:
                reasons.append(str(error))
                comune = None

        slugs = list(dict.fromkeys(s.lower() for s in SLUG_SEPARATORS.split(row.courses) if s))
        unknown = [s for s in slugs if s not in courses]
        if not slugs:
            reasons.append(_("nessun corso indicato"))
        elif unknown:
            reasons.append(
                _(
                    "corso sconosciuto o non pubblicato nel ciclo %(cycle)s: %(slugs)s",
                    cycle=cycle.code,
                    slugs=", ".join(unknown),
                )
            )

        user = users.get(email) if email_ok else None
        if user is not None and comune is not None:
            problem = _existing_account_problem(user, comune)
            if problem:
                reasons.append(problem)

        if reasons:
            bad.append(BadRow(line=row.line, email=row.email, reasons=tuple(reasons)))
            continue
        assert comune is not None
        row_courses = tuple(courses[s] for s in slugs)
        already = enrolled.get(user.id, set()) if user is not None else set()
        good.append(
            GoodRow(
                line=row.line,
                name=name,
                email=email,
                comune=comune,
                courses=row_courses,
                user=user,
                new_courses=tuple(c for c in row_courses if c.id not in already),
            )
        )
    return BulkPreview(
        content_hash=content_hash(text),
        rows_total=len(rows),
        good=tuple(good),
        bad=tuple(bad),
    )


def _valid_email(email: str) -> bool:
    try:
        check_email(email)
    except ServiceError:
        return False
    return True


def _existing_account_problem(user: User, comune: Comune) -> str | None:
    """Why an existing account cannot take this row, or None for the same operator.

    One answer for every reason: the preview never tells in which comune, with which role
    or in which state somebody else's account is (no account oracle)."""
    if (
        user.role != Role.OPERATOR
        or user.comune_id != comune.id
        or not user.is_active_account
        or user.deleted_at is not None
    ):
        return _("l'email appartiene a un account che questo caricamento non può modificare")
    return None


def _chunks(values: Sequence, size: int = _IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _published_courses(cycle: Cycle) -> dict[str, Course]:
    return {
        course.slug: course
        for course in db.session.scalars(
            select(Course)
            .options(joinedload(Course.current_version))
            .where(
                Course.cycle_id == cycle.id,
                Course.is_published.is_(True),
                Course.current_version_id.is_not(None),
            )
        )
    }


def _users_by_email(emails: Iterable[str]) -> dict[str, User]:
    found: dict[str, User] = {}
    for chunk in _chunks(sorted(emails)):
        for user in db.session.scalars(
            select(User).options(joinedload(User.comune)).where(User.email.in_(chunk))
        ):
            found[user.email] = user
    return found


def _enrolled_courses(user_ids: Sequence[int], cycle: Cycle) -> dict[int, set[int]]:
    enrolled: dict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(list(user_ids)):
        for user_id, course_id in db.session.execute(
            select(Enrolment.user_id, Enrolment.course_id).where(
                Enrolment.cycle_id == cycle.id, Enrolment.user_id.in_(chunk)
            )
        ):
            enrolled[user_id].add(course_id)
    return enrolled


def _name_key(name: str) -> str:
    """Case, spaces, typographic apostrophes and "Nome(PR)" spacing do not matter."""
    name = unicodedata.normalize("NFC", name).replace("\u2019", "'").replace("`", "'")
    name = re.sub(r"\s*\(\s*", " (", re.sub(r"\s*\)", ")", name))
    return " ".join(name.split()).casefold()


class _ComuneIndex:
    """Resolves what a file says about a comune: an ISTAT code (Excel's lost leading
    zeros restored), "Nome (PR)", "Nome (PR) – code" or an exact name (either part of a
    bilingual name), with one query on the registry and one for the comuni used."""

    def __init__(self, by_code: dict[str, Comune], by_name: dict[str, list[Comune]]) -> None:
        self.by_code = by_code
        self.by_name = by_name

    @classmethod
    def load(cls, texts: Iterable[str]) -> _ComuneIndex:
        wanted = {_name_key(t) for t in texts if t.strip()}
        ids: dict[str, int] = {}
        names: dict[str, list[int]] = defaultdict(list)
        for comune_id, code, name, abbreviation in db.session.execute(
            select(Comune.id, Comune.istat_code, Comune.name, Province.abbreviation).join(
                Province, Province.id == Comune.province_id
            )
        ):
            ids[code] = comune_id
            keys = {_name_key(name), *(_name_key(part) for part in name.split("/"))}
            for key in keys:
                names[key].append(comune_id)
                names[f"{key} ({abbreviation.lower()})"].append(comune_id)
        needed = {ids[c] for t in wanted if (c := _code_in(t)) and c in ids}
        needed.update(i for t in wanted for i in names.get(t, ()))
        loaded: dict[int, Comune] = {}
        for chunk in _chunks(sorted(needed)):
            for comune in db.session.scalars(
                select(Comune).options(joinedload(Comune.province)).where(Comune.id.in_(chunk))
            ):
                loaded[comune.id] = comune
        by_code = {code: loaded[i] for code, i in ids.items() if i in loaded}
        by_name = {
            key: [loaded[i] for i in dict.fromkeys(found)]
            for key, found in names.items()
            if key in wanted
        }
        return cls(by_code, by_name)

    def resolve(self, text: str) -> tuple[Comune | None, str]:
        key = _name_key(text)
        if not key:
            return None, _("comune mancante")
        code = _code_in(key)
        if code is not None:
            comune = self.by_code.get(code)
            if comune is None:
                return None, _("codice ISTAT sconosciuto: %(code)s", code=text.strip())
            return comune, ""
        found = self.by_name.get(key, [])
        if len(found) == 1:
            return found[0], ""
        if not found:
            return None, _("comune sconosciuto: %(name)s", name=text.strip())
        return None, _(
            "più comuni si chiamano «%(name)s»: indica il codice ISTAT (%(codes)s)",
            name=text.strip(),
            codes=", ".join(f"{c.istat_code} {c.province.abbreviation}" for c in found),
        )


def _code_in(key: str) -> str | None:
    """The ISTAT code in "058091", "58091" (as Excel shows it) or "Roma (RM) – 058091"."""
    if key.isdigit():
        return key.zfill(6) if 4 <= len(key) <= 6 else key
    match = re.search(r"(?<!\d)(\d{6})$", key)
    return match.group(1) if match else None


# --- applying the file -----------------------------------------------------------------


def add_enrolment(user: User, course: Course, cycle: Cycle, *, enrolled_by: User) -> Enrolment:
    """The bulk counterpart of learning.enrol(): the file was checked as a whole, so no
    query here; the unique constraint still guards against a concurrent enrolment."""
    enrolment = Enrolment(
        user_id=user.id, course_id=course.id, cycle_id=cycle.id, enrolled_by_id=enrolled_by.id
    )
    db.session.add(enrolment)
    return enrolment


def confirm(text: str, *, scope: Scope, cycle: Cycle, actor: User, filename: str) -> BulkResult:
    """Check the file again, then create the accounts, the enrolments, the invitations and
    the BulkUpload record in one transaction: all of them or, on any error, none.
    The invitations are queued in the same transaction; the worker delivers them."""
    checked = preview(text, scope=scope, cycle=cycle)
    ensure_cycle_open(cycle)  # and hold it open until this transaction ends
    mails: list[OutboundMail] = []
    try:
        created: dict[str, User] = {}
        for row in checked.good:
            if row.user is None:
                created[row.email] = _new_operator(row)
        db.session.flush()  # ids, for the enrolments and the invitation links
        enrolments = [
            add_enrolment(row.user or created[row.email], course, cycle, enrolled_by=actor)
            for row in checked.good
            for course in row.new_courses
        ]
        db.session.flush()
        tallies.record_enrolments(enrolments)
        subject = _("Il tuo account LGNetforma e i tuoi corsi")
        for row in checked.good:
            if row.user is None:
                user = created[row.email]
                body = render_template(
                    "mail/bulk_invitation.txt",
                    user=user,
                    comune=row.comune,
                    cycle=cycle,
                    courses=[c.current_version.title for c in row.courses if c.current_version],
                    link=absolute_url("auth.reset", token=reset_token(user)),
                )
                mails.append(queue_mail(user.email, subject, body, kind="invitation"))
        upload = BulkUpload(
            uploaded_by_id=actor.id,
            filename=(filename or "iscrizioni.csv")[:255],
            content_hash=checked.content_hash,
            rows_total=checked.rows_total,
            rows_rejected=len(checked.bad),
            accounts_created=checked.new_accounts,
            enrolments_created=checked.new_enrolments,
        )
        db.session.add(upload)
        db.session.flush()
        upload_id = upload.id
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise ServiceError(
            _l(
                "Nel frattempo alcuni account o iscrizioni del file sono stati creati da "
                "un'altra operazione: non è stato salvato niente. Carica di nuovo il file per "
                "vedere l'anteprima aggiornata."
            )
        ) from exc
    except BaseException:
        db.session.rollback()
        raise
    return BulkResult(
        upload_id=upload_id,
        rows_total=checked.rows_total,
        rows_rejected=len(checked.bad),
        accounts_created=checked.new_accounts,
        enrolments_created=checked.new_enrolments,
        accounts_existing=checked.existing_accounts,
        enrolments_existing=checked.existing_enrolments,
        mails_queued=len(mails),
    )


def _new_operator(row: GoodRow) -> User:
    """What accounts.create_user(role=operator, password=None, confirmed=False) makes,
    without its per-row look-up: the file's emails were checked in one query."""
    user = User(
        email=row.email,
        full_name=row.name,
        password_hash=None,
        role=Role.OPERATOR,
        comune=row.comune,
        is_confirmed=False,
        confirmed_at=None,
    )
    db.session.add(user)
    return user


def example_csv(comuni: Sequence[Comune], slugs: Sequence[str]) -> str:
    """A small file in the expected format, with a BOM so that Excel reads it as UTF-8."""
    first = comuni[0] if comuni else None
    second = comuni[1] if len(comuni) > 1 else first
    one = slugs[0] if slugs else "slug-del-corso"
    both = " ".join(slugs[:2]) if slugs else "slug-del-corso altro-corso"
    lines = [
        "nome;email;comune;corsi",
        f"Maria Bianchi;maria.bianchi@example.it;{first.istat_code if first else '058091'};{both}",
        f"Luca Verdi;luca.verdi@example.it;{second.name if second else 'Roma'};{one}",
    ]
    return "\ufeff" + "\r\n".join(lines) + "\r\n"

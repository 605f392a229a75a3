"""Bulk enrolment, step 2: checking every row (name, email, comune in scope and eligible,
courses, existing accounts) without changing anything: the dry-run preview."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from lgnetforma.extensions import db
from lgnetforma.models import (
    Comune,
    Course,
    Cycle,
    Enrolment,
    Province,
    Role,
    User,
)
from lgnetforma.services.coordination.bulk_read import (
    _IN_CHUNK,
    SLUG_SEPARATORS,
    BadRow,
    BulkFileError,
    BulkPreview,
    GoodRow,
    content_hash,
    read_rows,
)
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.people.accounts import (
    MAX_NAME_LENGTH,
    check_comune_eligible,
    check_email,
    normalise_email,
)
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.text import has_control_characters

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

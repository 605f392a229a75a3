"""Attendance reports exported by video platforms, read into minutes per email.

Three layouts are recognised by their header row, wherever it is in the file (the
platforms put a summary section above it):

- Zoom, the participants report (Reports › Usage › Participants, "Export"): columns
  "Name (original name)", "User Email" (or "Email"), "Join Time", "Leave Time",
  "Duration (Minutes)"; one row per join, so a person who rejoined has several rows.
- Microsoft Teams, the attendance report (meeting › Attendance › Download): a UTF-16,
  tab-separated file in sections "1. Summary", "2. Participants", "3. In-Meeting
  Activities"; the participants table has "Name", "First Join", "Last Leave",
  "In-Meeting Duration" (like "1h 2m 3s"), "Email", "Participant ID (UPN)", "Role".
- Ours: "email" and "minuti" (or "minutes").

A person's minutes are the sum of their rows, never more than the session's length.
Matching is by email, case-insensitive, against the people registered to the session.
Nothing is saved here: ``preview`` is the dry run, the caller applies what it shows.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from lgnetforma.models import LiveSession, SessionRegistration, User
from lgnetforma.services.people.accounts import normalise_email
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.reporting.exports import neutralise
from lgnetforma.services.sessions.roll_call import attendance_outcome, registered_people

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
LAYOUTS = {
    "zoom": _l("Zoom (rapporto dei partecipanti)"),
    "teams": _l("Microsoft Teams (rapporto presenze)"),
    "lgnetforma": _l("Modello LGNetforma"),
}
_EMAIL_HEADERS = {"user email", "email", "e-mail", "indirizzo email"}
_MINUTES_HEADERS = {
    "duration (minutes)": "zoom",
    "total duration (minutes)": "zoom",
    "durata (minuti)": "zoom",
    "in-meeting duration": "teams",
    "durata riunione": "teams",
    "minuti": "lgnetforma",
    "minutes": "lgnetforma",
}
_TEAMS_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
_SECTION = re.compile(r"^\s*\d+\.\s")


class AttendanceFileError(ServiceError):
    """The file as a whole cannot be read."""


@dataclass(frozen=True)
class Line:
    line: int
    email: str
    minutes: int


@dataclass(frozen=True)
class GoodLine:
    registration: SessionRegistration
    user: User
    minutes: int
    percent: float
    credited: float
    lines: tuple[int, ...]


@dataclass(frozen=True)
class BadLine:
    line: int
    email: str
    reason: str


@dataclass(frozen=True)
class AttendancePreview:
    layout: str
    good: tuple[GoodLine, ...]
    bad: tuple[BadLine, ...]
    # Registered people the file does not mention: they will be marked absent.
    missing: tuple[SessionRegistration, ...]

    @property
    def layout_label(self) -> str:
        return str(LAYOUTS[self.layout])

    @property
    def credited(self) -> int:
        return sum(1 for row in self.good if row.credited > 0)


def decode(data: bytes) -> str:
    """The text of an upload: UTF-16 (Teams) or UTF-8, with or without BOM."""
    if len(data) > MAX_BYTES:
        raise AttendanceFileError(_l("Il file supera i 2 MB."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise AttendanceFileError(_l("Il file UTF-16 non è leggibile.")) from exc
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise AttendanceFileError(
            _l("Il file è un foglio di calcolo, non un CSV: esportalo in formato CSV.")
        )
    if b"\x00" in data:
        raise AttendanceFileError(_l("Il file non è un CSV: contiene dati binari."))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AttendanceFileError(
            _l("Il file non è codificato in UTF-8 né in UTF-16: salvalo come CSV UTF-8.")
        ) from exc


def _key(cell: str) -> str:
    return " ".join(cell.strip().strip('"').lower().split())


def _delimiter(text: str) -> str:
    if "\t" in text:
        return "\t"
    sample = "\n".join(text.split("\n")[:50])
    return ";" if sample.count(";") > sample.count(",") else ","


def _minutes(layout: str, raw: str) -> int | None:
    raw = raw.strip()
    if layout == "teams":
        match = _TEAMS_DURATION.match(raw)
        if not raw or match is None or not any(match.groups()):
            return None
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return round(hours * 60 + minutes + seconds / 60)
    if not re.fullmatch(r"\d{1,5}([.,]\d+)?", raw):
        return None
    return round(float(raw.replace(",", ".")))


def read_lines(text: str) -> tuple[str, list[Line], list[BadLine]]:
    """(layout, rows with email and minutes, rows that cannot be read)."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise AttendanceFileError(_l("Il file è vuoto."))
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    layout = None
    email_at = minutes_at = -1
    lines: list[Line] = []
    bad: list[BadLine] = []
    try:
        for values in reader:
            number = reader.line_num
            keys = [_key(v) for v in values]
            emails = [i for i, k in enumerate(keys) if k in _EMAIL_HEADERS]
            durations = [i for i, k in enumerate(keys) if k in _MINUTES_HEADERS]
            if emails and durations:
                # A header. Zoom's report has two: the meeting's (with the host's email
                # and the meeting's length), then the participants'; the last one counts.
                layout = _MINUTES_HEADERS[keys[durations[0]]]
                email_at, minutes_at = emails[0], durations[0]
                lines, bad = [], []
                continue
            if layout is None:
                continue
            if not any(v.strip() for v in values):
                if layout == "teams":
                    break  # the end of the participants section
                continue
            if layout == "teams" and len(values) == 1 and _SECTION.match(values[0]):
                break
            if len(lines) + len(bad) >= MAX_ROWS:
                raise AttendanceFileError(
                    _l("Il file ha più di %(n)s righe.", n=f"{MAX_ROWS:,}".replace(",", "."))
                )
            email = normalise_email(values[email_at]) if email_at < len(values) else ""
            raw = values[minutes_at] if minutes_at < len(values) else ""
            if not email:
                bad.append(BadLine(number, "", str(_l("manca l'email"))))
                continue
            minutes = _minutes(layout, raw)
            if minutes is None:
                bad.append(
                    BadLine(
                        number,
                        email,
                        str(_l("durata non leggibile: «%(v)s»", v=raw.strip()[:40])),
                    )
                )
                continue
            lines.append(Line(number, email, minutes))
    except csv.Error as exc:
        raise AttendanceFileError(
            _l("Il file non è un CSV leggibile (riga %(n)s).", n=reader.line_num)
        ) from exc
    if layout is None:
        raise AttendanceFileError(
            _l(
                "Formato non riconosciuto: serve una riga di intestazione con una colonna "
                "email e una di durata (Zoom: «Duration (Minutes)»; Teams: «In-Meeting "
                "Duration»; modello LGNetforma: «email» e «minuti»)."
            )
        )
    return layout, lines, bad


def preview(session: LiveSession, text: str) -> AttendancePreview:
    """What importing ``text`` would record for ``session``; saves nothing."""
    layout, lines, bad = read_lines(text)
    people = {r.user.email: r for r in registered_people(session)}
    minutes: dict[str, int] = {}
    seen: dict[str, list[int]] = {}
    for line in lines:
        if line.email not in people:
            bad.append(
                BadLine(line.line, line.email, str(_l("non è tra gli iscritti all'incontro")))
            )
            continue
        minutes[line.email] = minutes.get(line.email, 0) + line.minutes
        seen.setdefault(line.email, []).append(line.line)
    good = []
    for email, total in minutes.items():
        registration = people[email]
        total = min(total, session.minutes)
        percent, credited = attendance_outcome(session, total)
        good.append(
            GoodLine(registration, registration.user, total, percent, credited, tuple(seen[email]))
        )
    good.sort(key=lambda row: (row.user.full_name.lower(), row.user.id))
    missing = tuple(r for email, r in people.items() if email not in minutes)
    return AttendancePreview(layout, tuple(good), tuple(sorted(bad, key=lambda b: b.line)), missing)


def template_csv(session: LiveSession) -> str:
    """Our template, with the people registered and no minutes yet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(["email", "minuti", "nome"])
    for registration in registered_people(session):
        writer.writerow([registration.user.email, "", neutralise(registration.user.full_name)])
    return "\ufeff" + buffer.getvalue()

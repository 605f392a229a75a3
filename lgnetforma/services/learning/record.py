"""The personal training record: every course completed and every live session attended
with its hours credited, per calendar year (Italian dates) and per cycle, against the
yearly goal (``TRAINING_GOAL_HOURS``, 40 by default); the yearly statement as a PDF,
verifiable at /verifica/<code> like the attestati, and a CSV for the HR office.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import date

from flask import current_app
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import cm
from reportlab.pdfgen import canvas
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import (
    CourseCompletion,
    CourseVersion,
    Cycle,
    LiveSession,
    RegistrationStatus,
    SessionRegistration,
    TrainingStatement,
    User,
    utcnow,
)
from lgnetforma.services.learning.certificates import BLUE, _fonts, _hours, _wrap, new_code
from lgnetforma.services.reporting.exports import csv_lines
from lgnetforma.services.sessions.rules import rome

DEFAULT_GOAL_HOURS = 40


@dataclass(frozen=True)
class RecordItem:
    kind: str  # "course" or "session"
    title: str
    on: date  # the Italian calendar day it was completed or held
    hours: float
    cycle: str
    ref: int  # the completion or the registration

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "title": self.title,
            "date": self.on.isoformat(),
            "hours": self.hours,
            "cycle": self.cycle,
        }


@dataclass(frozen=True)
class TrainingRecord:
    items: tuple[RecordItem, ...]
    goal: float

    def years(self) -> list[int]:
        return sorted({item.on.year for item in self.items}, reverse=True)

    def cycles(self) -> list[str]:
        return sorted({item.cycle for item in self.items}, reverse=True)

    def of_year(self, year: int) -> tuple[RecordItem, ...]:
        return tuple(item for item in self.items if item.on.year == year)

    def of_cycle(self, code: str) -> tuple[RecordItem, ...]:
        return tuple(item for item in self.items if item.cycle == code)

    @staticmethod
    def total(items: tuple[RecordItem, ...]) -> float:
        return round(sum(item.hours for item in items), 2)

    def goal_share(self, year: int) -> float:
        """The share of the yearly goal done, 0 to 1."""
        return min(1.0, self.total(self.of_year(year)) / self.goal) if self.goal else 1.0


def goal_hours() -> float:
    return float(current_app.config.get("TRAINING_GOAL_HOURS") or DEFAULT_GOAL_HOURS)


def training_record(user: User) -> TrainingRecord:
    """Everything ``user`` did that counts, oldest first."""
    courses = db.session.execute(
        select(CourseCompletion, CourseVersion.title, Cycle.code)
        .join(CourseVersion, CourseVersion.id == CourseCompletion.course_version_id)
        .join(Cycle, Cycle.id == CourseCompletion.cycle_id)
        .where(CourseCompletion.user_id == user.id)
    ).all()
    sessions = db.session.execute(
        select(SessionRegistration, LiveSession, Cycle.code)
        .join(LiveSession, LiveSession.id == SessionRegistration.session_id)
        .join(Cycle, Cycle.id == LiveSession.cycle_id)
        .where(
            SessionRegistration.user_id == user.id,
            SessionRegistration.status == RegistrationStatus.REGISTERED,
            SessionRegistration.credited_hours > 0,
            LiveSession.cancelled_at.is_(None),
        )
    ).all()
    items = [
        RecordItem(
            "course",
            title,
            rome(completion.completed_at).date(),
            completion.hours,
            code,
            completion.id,
        )
        for completion, title, code in courses
    ] + [
        RecordItem(
            "session",
            session.title,
            rome(session.starts_at).date(),
            registration.credited_hours or 0.0,
            code,
            registration.id,
        )
        for registration, session, code in sessions
    ]
    items.sort(key=lambda item: (item.on, item.kind, item.title, item.ref))
    return TrainingRecord(tuple(items), goal_hours())


RECORD_CSV_HEADERS = ("data", "tipo", "titolo", "ore", "ciclo")


def record_csv(items: tuple[RecordItem, ...]) -> str:
    kinds = {"course": "corso", "session": "incontro"}
    return "".join(
        csv_lines(
            RECORD_CSV_HEADERS,
            ([item.on, kinds[item.kind], item.title, item.hours, item.cycle] for item in items),
        )
    )


# --- the yearly statement --------------------------------------------------------------


def issue_statement(user: User, year: int) -> tuple[TrainingStatement, bool]:
    """The statement of ``year`` and whether it is new: the same one while the record of
    the year is unchanged, a new one (with a new code) when it has changed. The caller
    commits."""
    record = training_record(user)
    items = [item.as_dict() for item in record.of_year(year)]
    total = record.total(record.of_year(year))
    content = json.dumps(
        {"items": items, "total": total, "goal": record.goal, "name": user.full_name},
        sort_keys=True,
    )
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    existing = db.session.scalar(
        select(TrainingStatement).where(
            TrainingStatement.user_id == user.id,
            TrainingStatement.year == year,
            TrainingStatement.content_hash == digest,
            TrainingStatement.revoked_at.is_(None),
        )
    )
    if existing is not None:
        return existing, False
    statement = TrainingStatement(
        code=new_code(),
        user_id=user.id,
        year=year,
        holder_name=user.full_name,
        comune_name=user.comune.name if user.comune else "",
        total_hours=total,
        goal_hours=record.goal,
        items=items,
        content_hash=digest,
    )
    db.session.add(statement)
    db.session.flush()
    return statement, True


def statement_by_code(code: str) -> TrainingStatement | None:
    return db.session.scalar(
        select(TrainingStatement).where(TrainingStatement.code == code.strip().upper())
    )


def revoke_statements_of(user: User) -> None:
    """On account deletion, like the attestati: the name goes, the code stops verifying."""
    for statement in db.session.scalars(
        select(TrainingStatement).where(TrainingStatement.user_id == user.id)
    ):
        statement.holder_name = ""
        statement.revoked_at = utcnow()


def statement_filename(statement: TrainingStatement) -> str:
    return f"formazione-{statement.year}-{statement.code}.pdf"


def render_statement_pdf(statement: TrainingStatement, verify_url: str) -> bytes:
    """The statement as A4 portrait pages: holder, list of activities, totals, QR code."""
    regular, bold = _fonts()
    buffer = io.BytesIO()
    width, height = A4
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setTitle(f"Dichiarazione della formazione {statement.year}")
    pdf.setAuthor("LGNetforma")
    pdf.setSubject(f"Codice di verifica {statement.code}")

    def header() -> float:
        pdf.setFillColor(BLUE)
        pdf.setFont(bold, 14)
        pdf.drawString(2 * cm, height - 2 * cm, "LGNetforma")
        pdf.setFillColor(HexColor("#1a1a1a"))
        pdf.setFont(regular, 8)
        pdf.drawString(2 * cm, height - 2.5 * cm, f"Codice di verifica {statement.code}")
        return height - 3.5 * cm

    y = header()
    pdf.setFont(bold, 18)
    pdf.drawString(2 * cm, y, f"Formazione svolta nel {statement.year}")
    y -= 0.9 * cm
    pdf.setFont(regular, 11)
    pdf.drawString(2 * cm, y, statement.holder_name)
    if statement.comune_name:
        y -= 0.55 * cm
        pdf.drawString(2 * cm, y, f"Comune di {statement.comune_name}")
    y -= 1 * cm
    pdf.setFont(bold, 10)
    pdf.drawString(2 * cm, y, "Data")
    pdf.drawString(4.6 * cm, y, "Attività")
    pdf.drawRightString(width - 2 * cm, y, "Ore")
    y -= 0.5 * cm
    pdf.setFont(regular, 10)
    kinds = {"course": "Corso e-learning", "session": "Incontro dal vivo"}
    for item in statement.items:
        lines = _wrap(f"{kinds[item['kind']]}: {item['title']}", regular, 10, width - 9 * cm)
        if y - 0.5 * cm * len(lines) < 5 * cm:
            pdf.showPage()
            y = header()
            pdf.setFont(regular, 10)
        pdf.drawString(2 * cm, y, date.fromisoformat(item["date"]).strftime("%d/%m/%Y"))
        pdf.drawRightString(width - 2 * cm, y, _hours(item["hours"]))
        for line in lines:
            pdf.drawString(4.6 * cm, y, line)
            y -= 0.5 * cm
    y -= 0.4 * cm
    pdf.setFont(bold, 11)
    pdf.drawString(2 * cm, y, "Totale ore")
    pdf.drawRightString(width - 2 * cm, y, _hours(statement.total_hours))
    y -= 0.6 * cm
    pdf.setFont(regular, 10)
    pdf.drawString(
        2 * cm, y, f"Obiettivo annuale: {_hours(statement.goal_hours)} ore di formazione"
    )
    qr = QrCodeWidget(verify_url)
    x0, y0, x1, y1 = qr.getBounds()
    size = 3 * cm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, width - 2 * cm - size, 1.5 * cm)
    pdf.setFont(regular, 8)
    pdf.drawString(
        2 * cm,
        2.4 * cm,
        f"Rilasciata il {rome(statement.issued_at).strftime('%d/%m/%Y')}. Verifica: {verify_url}",
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()

"""Attestati: issued once per course completion, downloadable as PDF, verifiable by code."""

from __future__ import annotations

import io
import secrets
import zipfile
from collections.abc import Iterable
from functools import cache

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import Certificate, Comune, CourseCompletion, User, utcnow
from lgnetforma.paths import PROJECT_ROOT

# No 0/O or 1/I/L: codes are read aloud and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
FONTS_DIR = PROJECT_ROOT / "static" / "vendor" / "bootstrap-italia" / "fonts" / "Titillium_Web"
BLUE = HexColor("#0066cc")


def new_code() -> str:
    """A verification code like LGN-7K3M-Q9XR-TW4P (about 60 bits of randomness)."""
    groups = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(4)) for _ in range(3)]
    return "LGN-" + "-".join(groups)


def issue_certificate(completion: CourseCompletion) -> Certificate:
    """The certificate of ``completion``, created on first call and the same ever after."""
    existing = db.session.scalar(
        select(Certificate).where(Certificate.completion_id == completion.id)
    )
    if existing is not None:
        return existing
    user = db.session.get(User, completion.user_id)
    comune = db.session.get(Comune, completion.comune_id) if completion.comune_id else None
    certificate = Certificate(
        code=new_code(),
        completion_id=completion.id,
        holder_name=user.full_name,
        comune_name=comune.name if comune else "",
        course_title=completion.course_version.title,
        hours=completion.hours,
        cycle_code=completion.cycle.code,
        completed_on=completion.completed_at.date(),
    )
    db.session.add(certificate)
    db.session.flush()
    return certificate


def certificate_by_code(code: str) -> Certificate | None:
    return db.session.scalar(select(Certificate).where(Certificate.code == code.strip().upper()))


def revoke_certificates_of(user: User, reason: str) -> None:
    """On account deletion: the name goes, the page says the attestato is no longer valid."""
    certificates = db.session.scalars(
        select(Certificate)
        .join(CourseCompletion, CourseCompletion.id == Certificate.completion_id)
        .where(CourseCompletion.user_id == user.id)
    )
    for certificate in certificates:
        certificate.holder_name = ""
        certificate.revoked_at = utcnow()
        certificate.revocation_reason = reason


@cache
def _fonts() -> tuple[str, str]:
    """Titillium Web, the design system's typeface, when the assets are installed."""
    regular, bold = (
        FONTS_DIR / "titillium-web-v10-latin-ext_latin-regular.ttf",
        (FONTS_DIR / "titillium-web-v10-latin-ext_latin-700.ttf"),
    )
    if regular.exists() and bold.exists():
        pdfmetrics.registerFont(TTFont("Titillium", str(regular)))
        pdfmetrics.registerFont(TTFont("Titillium-Bold", str(bold)))
        return "Titillium", "Titillium-Bold"
    return "Helvetica", "Helvetica-Bold"


def _hours(hours: float) -> str:
    return f"{hours:g}".replace(".", ",")


def render_pdf(certificate: Certificate, verify_url: str) -> bytes:
    """The attestato di partecipazione as a one-page landscape A4 PDF with a QR code."""
    regular, bold = _fonts()
    buffer = io.BytesIO()
    width, height = landscape(A4)
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=True, lang="it-IT")
    pdf.setTitle(f"Attestato di partecipazione – {certificate.course_title}")
    pdf.setAuthor("LGNetforma")
    pdf.setSubject(f"Codice di verifica {certificate.code}")

    pdf.setStrokeColor(BLUE)
    pdf.setLineWidth(3)
    pdf.rect(1.2 * cm, 1.2 * cm, width - 2.4 * cm, height - 2.4 * cm)
    pdf.setFillColor(BLUE)
    pdf.setFont(bold, 16)
    pdf.drawString(2.2 * cm, height - 2.6 * cm, "LGNetforma")
    pdf.setFont(regular, 10)
    pdf.drawString(
        2.2 * cm,
        height - 3.2 * cm,
        "Piano formativo del Ministero dell'Interno con ANCI e Cittalia",
    )

    center = width / 2
    pdf.setFillColor(HexColor("#1a1a1a"))
    pdf.setFont(bold, 30)
    pdf.drawCentredString(center, height - 6 * cm, "Attestato di partecipazione")
    pdf.setFont(regular, 14)
    pdf.drawCentredString(center, height - 7.5 * cm, "Si attesta che")
    pdf.setFont(bold, 22)
    pdf.drawCentredString(center, height - 8.8 * cm, certificate.holder_name)
    pdf.setFont(regular, 13)
    if certificate.comune_name:
        pdf.drawCentredString(center, height - 9.7 * cm, f"Comune di {certificate.comune_name}")
    pdf.drawCentredString(center, height - 11 * cm, "ha completato il corso")
    pdf.setFont(bold, 17)
    for offset, line in enumerate(_wrap(certificate.course_title, bold, 17, width - 8 * cm)):
        pdf.drawCentredString(center, height - (12.1 + 0.8 * offset) * cm, line)
    pdf.setFont(regular, 13)
    pdf.drawCentredString(
        center,
        height - 14.2 * cm,
        f"per {_hours(certificate.hours)} ore di formazione, ciclo {certificate.cycle_code}, "
        f"completato il {certificate.completed_on.strftime('%d/%m/%Y')}",
    )

    qr = QrCodeWidget(verify_url)
    x0, y0, x1, y1 = qr.getBounds()
    size = 3.6 * cm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, pdf, width - 2.2 * cm - size, 2 * cm)
    pdf.setFont(regular, 9)
    pdf.drawString(2.2 * cm, 3.2 * cm, f"Codice di verifica: {certificate.code}")
    pdf.drawString(2.2 * cm, 2.6 * cm, f"Verifica: {verify_url}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _wrap(text: str, font: str, size: int, max_width: float) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if pdfmetrics.stringWidth(candidate, font, size) <= max_width or not line:
            line = candidate
        else:
            lines.append(line)
            line = word
    return [*lines, line] if line else lines


def certificates_zip(items: Iterable[tuple[Certificate, str]]) -> bytes:
    """A ZIP of PDFs, one per (certificate, verification URL)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for certificate, url in items:
            archive.writestr(f"attestato-{certificate.code}.pdf", render_pdf(certificate, url))
    return buffer.getvalue()


def pdf_filename(certificate: Certificate) -> str:
    return f"attestato-{certificate.code}.pdf"

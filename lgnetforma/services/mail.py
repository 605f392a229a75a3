"""Outgoing mail through an outbox: stored first, delivered over SMTP, retried later.

A mail server that is down never loses a message nor fails the action that sent it.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import select

from lgnetforma.extensions import db
from lgnetforma.models import OutboundMail, utcnow

MAX_ATTEMPTS = 20


def queue_mail(recipient: str, subject: str, body: str) -> OutboundMail:
    """Add a message to the outbox (in the caller's transaction)."""
    mail = OutboundMail(recipient=recipient, subject=subject, body=body)
    db.session.add(mail)
    return mail


def send_mail(recipient: str, subject: str, body: str) -> bool:
    """Queue, commit, and try to deliver now. False when it stays queued for a retry."""
    mail = queue_mail(recipient, subject, body)
    db.session.commit()
    return deliver(mail)


def deliver(mail: OutboundMail) -> bool:
    """Try to deliver one queued message; record the outcome."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="lgnetforma")
    message.set_content(mail.body)
    mail.attempts += 1
    try:
        _smtp_send(message)
    except (OSError, smtplib.SMTPException) as exc:
        mail.last_error = f"{type(exc).__name__}: {exc}"[:1000]
        db.session.commit()
        current_app.logger.warning("mail %s to be retried: %s", mail.id, mail.last_error)
        return False
    mail.sent_at = utcnow()
    mail.last_error = None
    db.session.commit()
    return True


def retry_pending(limit: int = 500) -> tuple[int, int]:
    """Deliver what is still queued; return (delivered, still queued)."""
    pending = db.session.scalars(
        select(OutboundMail)
        .where(OutboundMail.sent_at.is_(None), OutboundMail.attempts < MAX_ATTEMPTS)
        .order_by(OutboundMail.id)
        .limit(limit)
    ).all()
    delivered = sum(1 for mail in pending if deliver(mail))
    return delivered, len(pending) - delivered


def _smtp_send(message: EmailMessage) -> None:
    config = current_app.config
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TIMEOUT"]
    if config.get("SMTP_SSL"):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config.get("SMTP_TLS") and not config.get("SMTP_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
        smtp.send_message(message)

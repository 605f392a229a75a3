"""Outgoing mail through an outbox: stored first, delivered over SMTP, retried later.

A mail server that is down never loses a message nor fails the action that sent it.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app
from sqlalchemy import inspect, select, update

from lgnetforma.extensions import db
from lgnetforma.models import OutboundMail, utcnow

MAX_ATTEMPTS = 20


def queue_mail(
    recipient: str,
    subject: str,
    body: str,
    attachments: list[dict[str, Any]] | None = None,
) -> OutboundMail:
    """Add a message to the outbox (in the caller's transaction).

    ``attachments``: text files, each {"filename", "content_type", "content"}.
    """
    mail = OutboundMail(
        recipient=recipient, subject=subject, body=body, attachments=attachments or None
    )
    db.session.add(mail)
    return mail


def send_mail(recipient: str, subject: str, body: str) -> bool:
    """Queue, commit, and try to deliver now. False when it stays queued for a retry."""
    mail = queue_mail(recipient, subject, body)
    db.session.commit()
    return deliver(mail)


def deliver(mail: OutboundMail) -> bool:
    """Try to deliver one queued message; record the outcome."""
    message = _message(mail)
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


def deliver_batch(mails: Sequence[OutboundMail], *, commit_every: int = 200) -> int:
    """Deliver queued (committed) messages over one SMTP connection; record each outcome.

    A refused recipient fails only its own message; a connection that cannot be opened
    or breaks leaves every message not yet delivered queued for `lgnetforma mail retry`.
    Each message counts one attempt. Outcomes are saved every ``commit_every`` messages,
    so a crash half-way does not send the delivered ones again. Returns how many were
    delivered.
    """
    ids = [_mail_id(mail) for mail in mails]
    loaded: dict[int, OutboundMail] = {}
    for start in range(0, len(ids), 900):  # one query per 900, not one per message
        for mail in db.session.scalars(
            select(OutboundMail).where(
                OutboundMail.id.in_(ids[start : start + 900]), OutboundMail.sent_at.is_(None)
            )
        ):
            loaded[mail.id] = mail
    pending = [(i, loaded[i].attempts, _message(loaded[i])) for i in ids if i in loaded]
    outcomes: list[dict[str, Any]] = []
    delivered = done = 0

    def save() -> None:
        if outcomes:
            db.session.execute(update(OutboundMail), outcomes)
            outcomes.clear()
        db.session.commit()

    try:
        if pending:
            with _smtp_connection() as smtp:
                for mail_id, attempts, message in pending:
                    outcome: dict[str, Any] = {"id": mail_id, "attempts": attempts + 1}
                    try:
                        smtp.send_message(message)
                    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                        outcome["last_error"] = f"{type(exc).__name__}: {exc}"[:1000]
                    else:
                        outcome.update(sent_at=utcnow(), last_error=None)
                        delivered += 1
                    outcomes.append(outcome)
                    done += 1
                    if done % commit_every == 0:
                        save()
    except (OSError, smtplib.SMTPException) as exc:
        error = f"{type(exc).__name__}: {exc}"[:1000]
        outcomes.extend(
            {"id": mail_id, "attempts": attempts + 1, "last_error": error}
            for mail_id, attempts, _message_ in pending[done:]
        )
        current_app.logger.warning("%s mails to be retried: %s", len(pending) - done, error)
    save()
    return delivered


def _mail_id(mail: OutboundMail) -> int:
    """The id without loading an expired object one by one."""
    identity = inspect(mail).identity
    return identity[0] if identity else mail.id


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


def _message(mail: OutboundMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="lgnetforma")
    message.set_content(mail.body)
    for attachment in mail.attachments or ():
        maintype, _slash, subtype = attachment["content_type"].partition("/")
        message.add_attachment(
            attachment["content"].encode("utf-8"),
            maintype=maintype,
            subtype=subtype.split(";")[0],
            filename=attachment["filename"],
        )
    return message


def _smtp_send(message: EmailMessage) -> None:
    with _smtp_connection() as smtp:
        smtp.send_message(message)


@contextmanager
def _smtp_connection() -> Iterator[smtplib.SMTP]:
    """One open, authenticated SMTP connection, closed on exit."""
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
        yield smtp

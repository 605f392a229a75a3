"""Outgoing mail through an outbox.

A message is written to the outbox in the transaction of the event that causes it
(``compose`` / ``queue_mail``) and leaves only through ``lgnetforma worker``
(``deliver_due``): no web request ever talks to the mail server. Delivery is at least
once: a worker stopped between the server's "250 OK" and its own commit sends that one
message again on the next run.

With several workers on PostgreSQL each message is claimed with ``SELECT … FOR UPDATE
SKIP LOCKED`` and its row stays locked until the outcome is committed, so two workers
never hold the same message. SQLite has no row locks: run one worker there.
"""

from __future__ import annotations

import smtplib
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from flask import current_app, render_template
from sqlalchemy import or_, select

from lgnetforma.extensions import db
from lgnetforma.i18n import in_language
from lgnetforma.models import MailStatus, OutboundMail, User, utcnow


def queue_mail(
    recipient: str,
    subject: str,
    body: str,
    *,
    kind: str = "",
    locale: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> OutboundMail:
    """Add a message to the outbox, in the caller's transaction. ``attachments``: text
    files, each {"filename", "content_type", "content"} (an .ics invitation)."""
    mail = OutboundMail(
        recipient=recipient,
        subject=str(subject)[:300],
        body=body,
        kind=kind,
        locale=locale or current_app.config["BABEL_DEFAULT_LOCALE"],
        status=MailStatus.QUEUED,
        attachments=attachments or None,
    )
    db.session.add(mail)
    return mail


def recipient_locale(user: User | None) -> str:
    """The language a person reads their mail in: the one they chose, else Italian."""
    languages = current_app.config["LANGUAGES"]
    if user is not None and user.locale in languages:
        return user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def render_for(
    user: User, subject: str | Callable[[], str], template: str, **context: Any
) -> tuple[str, str, str]:
    """(subject, body, locale) of ``template`` written for ``user`` in their language;
    ``subject`` is a lazy string or a function, evaluated in that language too."""
    locale = recipient_locale(user)
    with in_language(locale):
        text = subject() if callable(subject) and not isinstance(subject, str) else subject
        return str(text), render_template(template, user=user, **context), locale


def compose(
    user: User, kind: str, subject: str | Callable[[], str], template: str, **context: Any
) -> OutboundMail:
    """Write ``template`` for ``user`` in their language and queue it (caller commits)."""
    text, body, locale = render_for(user, subject, template, **context)
    return queue_mail(user.email, text, body, kind=kind, locale=locale)


# --- delivery, in the worker -------------------------------------------------------------


@dataclass
class Drained:
    sent: int = 0
    retried: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx answer to the recipient or data)."""


def backoff(attempts: int) -> timedelta:
    """The wait before try number ``attempts + 1``: doubling from MAIL_RETRY_BASE_SECONDS,
    at most MAIL_RETRY_MAX_SECONDS."""
    config = current_app.config
    seconds = config["MAIL_RETRY_BASE_SECONDS"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config["MAIL_RETRY_MAX_SECONDS"]))


def due_query(now: datetime):  # noqa: ANN201 - a Select
    return (
        select(OutboundMail)
        .where(
            OutboundMail.status == MailStatus.QUEUED,
            or_(OutboundMail.next_attempt_at.is_(None), OutboundMail.next_attempt_at <= now),
        )
        .order_by(OutboundMail.id)
    )


def deliver_due(*, stop: Callable[[], bool] = lambda: False, limit: int | None = None) -> Drained:
    """Deliver the messages that are due, one transaction each, until none is left (or
    ``stop()`` is true between two messages, or ``limit`` were handled, or the server
    cannot be reached)."""
    outcome = Drained()
    started = utcnow()  # a message retried in this pass waits for the next one
    transport = Transport()
    sqlite = db.engine.dialect.name == "sqlite"
    try:
        while not stop() and (limit is None or outcome.handled < limit):
            mail = db.session.scalars(
                due_query(started).limit(1).with_for_update(skip_locked=True)
            ).first()
            if mail is None:
                db.session.rollback()
                break
            if not _resolved(mail):
                db.session.commit()  # nothing to send (cancelled): the next one
                continue
            message = _message(mail)
            if sqlite:
                # No row locks to keep: end the read so the web app can write meanwhile.
                mail_id = mail.id
                db.session.commit()
            server_down = False
            try:
                transport.send(message)
            except PermanentFailure as exc:
                error, permanent = str(exc), True
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
                error, permanent = _describe(exc), False  # this message only (a 4xx)
            except (OSError, smtplib.SMTPException) as exc:
                error, permanent, server_down = _describe(exc), False, True
                transport.close()
            else:
                error, permanent = None, False
            if sqlite:
                mail = db.session.get(OutboundMail, mail_id)
            _record(mail, error, permanent, outcome)
            db.session.commit()
            if server_down:
                # The server is unreachable or broke the connection: the other messages
                # wait for the next pass without spending a try on it.
                break
    finally:
        transport.close()
    return outcome


# Kinds of row whose text the worker writes at delivery, and who writes it: a function that
# fills in the row and returns True, or cancels it and returns False. Registered by the module
# that owns the kind (services/people/password_reset.py for "reset-request").
RESOLVERS: dict[str, Callable[[OutboundMail], bool]] = {}


def _resolved(mail: OutboundMail) -> bool:
    resolve = RESOLVERS.get(mail.kind or "")
    return True if resolve is None else resolve(mail)


def _record(mail: OutboundMail, error: str | None, permanent: bool, outcome: Drained) -> None:
    now = utcnow()
    mail.attempts += 1
    if error is None:
        mail.status, mail.sent_at, mail.last_error = MailStatus.SENT, now, None
        outcome.sent += 1
        return
    mail.last_error = error[:1000]
    if permanent or mail.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        mail.status = MailStatus.FAILED
        outcome.failed += 1
        current_app.logger.error("mail %s failed after %s tries: %s", mail.id, mail.attempts, error)
    else:
        mail.next_attempt_at = now + backoff(mail.attempts)
        outcome.retried += 1
        current_app.logger.warning("mail %s to be retried: %s", mail.id, error)


def _describe(exc: BaseException) -> str:
    """The server's last answer, as readable as it gets."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = "; ".join(
            f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
            for code, msg in exc.recipients.values()
        )
        return f"SMTPRecipientsRefused: {answers}"
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error
        text = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        return f"{type(exc).__name__}: {exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _message(mail: OutboundMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_SENDER"]
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    # Names the outbox row, so a copy sent twice (at-least-once) can be traced.
    message["Message-ID"] = make_msgid(idstring=f"outbox.{mail.id}", domain="lgnetforma")
    message.set_content(mail.body)
    message["Content-Language"] = mail.locale  # after set_content, which clears Content-*
    for attachment in mail.attachments or ():
        maintype, _slash, subtype = attachment["content_type"].partition("/")
        message.add_attachment(
            attachment["content"].encode("utf-8"),
            maintype=maintype,
            subtype=subtype.split(";")[0],
            filename=attachment["filename"],
        )
    return message


class Transport:
    """Where messages go: MAIL_BACKEND "smtp" (one connection, reused while it works) or
    "console" (printed on standard output, for development)."""

    def __init__(self) -> None:
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        if current_app.config["MAIL_BACKEND"] == "console":
            sys.stdout.write(f"{'-' * 72}\n{message.as_string()}\n{'-' * 72}\n")
            sys.stdout.flush()
            return
        if self._smtp is None:
            self._smtp = _open_smtp()
        try:
            self._smtp.send_message(message)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError) as exc:
            if _permanent(exc):
                raise PermanentFailure(_describe(exc)) from exc
            raise

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None


def _open_smtp() -> smtplib.SMTP:
    """One open, authenticated SMTP connection."""
    config = current_app.config
    host, port, timeout = config["SMTP_HOST"], int(config["SMTP_PORT"]), config["SMTP_TIMEOUT"]
    if config.get("SMTP_SSL"):
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config.get("SMTP_TLS") and not config.get("SMTP_SSL"):
            smtp.starttls(context=ssl.create_default_context())
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"])
    except BaseException:
        smtp.close()
        raise
    return smtp


# --- the admins' view of the outbox ------------------------------------------------------

KINDS = ("confirm", "reset", "invitation", "reminder", "register_existing")


def outbox_query(*, status: str = "", kind: str = "", text: str = ""):  # noqa: ANN201
    """The outbox, newest first, filtered by status, kind and part of the recipient."""
    query = select(OutboundMail).order_by(OutboundMail.id.desc())
    if status:
        query = query.where(OutboundMail.status == status)
    if kind:
        query = query.where(OutboundMail.kind == kind)
    if text.strip():
        query = query.where(OutboundMail.recipient.contains(text.strip().lower(), autoescape=True))
    return query


def resend(mail: OutboundMail) -> OutboundMail:
    """Queue a fresh copy of a message (the original keeps its history); caller commits."""
    copy = queue_mail(mail.recipient, mail.subject, mail.body, kind=mail.kind, locale=mail.locale)
    db.session.flush()
    return copy


def cancel(mail: OutboundMail) -> bool:
    """Take a queued message out of the queue; False when it is no longer queued. On
    PostgreSQL the row is locked first, so a worker holding it finishes before this."""
    locked = db.session.scalar(
        select(OutboundMail).where(OutboundMail.id == mail.id).with_for_update()
    )
    if locked is None or locked.status != MailStatus.QUEUED:
        return False
    locked.status = MailStatus.CANCELLED
    return True

"""Password reset by mail, with nothing for a clock to tell: the request only records the
address as typed (one outbox row, whoever it belongs to), and the worker resolves it — a reset
link to an active account, or nothing at all (the row is cancelled)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lgnetforma.models import MailStatus, OutboundMail
from lgnetforma.services.people.accounts import normalise_email, reset_token, user_by_email
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import RESOLVERS, queue_mail, render_for

RESET_REQUEST = "reset-request"
NO_ACCOUNT = "nessun account attivo con questo indirizzo: nessun messaggio inviato"


def request_reset(email: str, locale: str | None) -> OutboundMail:
    """The same work for any address (the caller commits)."""
    return queue_mail(normalise_email(email), "", "", kind=RESET_REQUEST, locale=locale)


def resolve(mail: OutboundMail) -> bool:
    """In the worker: write the reset mail for the account, or cancel the row."""
    user = user_by_email(mail.recipient)
    if user is None or not user.is_active:
        mail.status, mail.last_error = MailStatus.CANCELLED, NO_ACCOUNT
        return False
    subject, body, locale = render_for(
        user,
        _l("Reimposta la password – LGNetforma"),
        "mail/reset.txt",
        link=absolute_url("auth.reset", token=reset_token(user)),
    )
    mail.recipient, mail.subject, mail.body, mail.locale, mail.kind = (
        user.email,
        subject,
        body,
        locale,
        "reset",
    )
    return True


RESOLVERS[RESET_REQUEST] = resolve

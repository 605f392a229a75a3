"""The audit trail: who did what, when, from where and to what.

Events are appended and never changed (database triggers refuse UPDATE and DELETE, see
migration 0004). Every string that may come from a user is cleaned before it is stored:
control characters (CR, LF, tabs, bidirectional overrides, line separators...) become
spaces and lengths are capped, so nobody can forge an extra entry or line in the trail or
in a log that copies it. Pages render the values escaped, like everything else.

The web, API and CLI layers call :func:`record`: they know the actor and the address.
The caller commits, together with the change the event describes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, or_, select

from lgnetforma.database import LIKE_ESCAPE, like_pattern
from lgnetforma.extensions import db
from lgnetforma.i18n import TIME_ZONE
from lgnetforma.models import AuditEvent, Comune, User
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.text import is_control

# action -> label shown in the pages (the stored value is the key).
ACTIONS: dict[str, Any] = {
    "login": _l("Accesso"),
    "login.failed": _l("Accesso non riuscito"),
    "login.locked": _l("Accesso bloccato per troppi tentativi"),
    "rate_limited": _l("Troppe richieste"),
    "logout": _l("Uscita"),
    "password.changed": _l("Password cambiata"),
    "password.reset": _l("Password reimpostata dal link"),
    "user.created": _l("Account creato"),
    "user.updated": _l("Account modificato (ruolo, ambito, nome)"),
    "user.deactivated": _l("Account disattivato"),
    "user.reactivated": _l("Account riattivato"),
    "enrolment.created": _l("Iscrizione a un corso"),
    "attempt.submitted": _l("Questionario inviato"),
    "attempts.granted": _l("Tentativi di questionario concessi"),
    "course.completed": _l("Corso completato"),
    "certificate.issued": _l("Attestato rilasciato"),
    "certificate.downloaded": _l("Attestato scaricato"),
    "export": _l("Esportazione di dati"),
    "bulk_enrolment.confirmed": _l("Iscrizione massiva confermata"),
    "reminders.sent": _l("Promemoria messi in coda"),
    "reminder_schedule.updated": _l("Promemoria automatici modificati"),
    "mail.resent": _l("Messaggio rimesso in coda"),
    "mail.cancelled": _l("Messaggio annullato"),
    "user.confirmed_by_admin": _l("Indirizzo confermato da un amministratore"),
    "user.confirmation_resent": _l("Nuovo link di conferma in coda"),
    "personal_data.exported": _l("Dati personali scaricati"),
    "account.deleted": _l("Account eliminato dall'interessato"),
    "api_token.created": _l("Token per l'API creato"),
    "api_token.revoked": _l("Token per l'API revocato"),
    "cycle.closed": _l("Ciclo chiuso"),
    "backup.created": _l("Backup del database"),
    "backup.restored": _l("Ripristino del database"),
    "session.created": _l("Incontro creato"),
    "session.updated": _l("Incontro modificato o spostato"),
    "session.cancelled": _l("Incontro annullato"),
    "session.registered": _l("Iscrizione a un incontro"),
    "session.unregistered": _l("Rinuncia a un incontro"),
    "session.attendance": _l("Presenze di un incontro registrate"),
    "training_statement.downloaded": _l("Dichiarazione della formazione scaricata"),
    "spid.refused": _l("Risposta SPID/CIE rifiutata"),
    "spid.linked": _l("SPID/CIE collegato all'account"),
    "account.created_spid": _l("Account creato con SPID/CIE"),
    "logout.spid": _l("Uscita chiesta dal gestore di identità"),
    "accessibility.feedback": _l("Segnalazione di accessibilità inviata"),
}

# Column sizes of the table (migration 0004) and caps for what goes in ``details``.
MAX_ACTION = 50
MAX_ROLE = 20
MAX_IP = 45
MAX_OBJECT_TYPE = 50
MAX_OBJECT_ID = 64
MAX_DETAIL_KEY = 50
MAX_DETAIL_TEXT = 500
MAX_DETAIL_ITEMS = 50
MAX_DETAIL_DEPTH = 3
# An email as typed at a failed login is kept for this many characters.
MAX_TYPED_EMAIL = 100


class Actor(Protocol):
    id: int
    role: str


def clean(value: Any, limit: int) -> str:
    """``value`` as text without control or format characters, at most ``limit`` long.

    Cc (CR, LF, NUL, ESC...), Cf (bidirectional overrides, zero-width joiners), Zl and Zp
    (Unicode line and paragraph separators) and the other C categories become a space.
    """
    text = str(value)
    cleaned = "".join(
        " " if is_control(ch) else ch
        for ch in text[: limit * 2]  # enough to fill ``limit`` even after trimming
    )
    return cleaned.strip()[:limit]


def _clean_optional(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    return clean(value, limit) or None


def clean_details(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with every string cleaned and every list capped."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DETAIL_DEPTH:
        return clean(value, MAX_DETAIL_TEXT)
    if isinstance(value, dict):
        return {
            clean(key, MAX_DETAIL_KEY): clean_details(item, depth + 1)
            for key, item in list(value.items())[:MAX_DETAIL_ITEMS]
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_details(item, depth + 1) for item in list(value)[:MAX_DETAIL_ITEMS]]
    return clean(value, MAX_DETAIL_TEXT)


def typed_email(email: str | None) -> str:
    """An email as typed (at a failed login, a reset request), normalised and truncated."""
    return clean((email or "").strip().lower(), MAX_TYPED_EMAIL)


def record(
    action: str,
    *,
    actor: Actor | None,
    ip: str | None,
    object_type: str | None = None,
    object_id: Any = None,
    comune_id: int | None = None,
    region_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; the caller commits.

    ``comune_id`` and ``region_id`` name the territory the event concerns, so coordinators
    see the events of their scope; the region of a comune is filled in when omitted.
    """
    if comune_id is not None and region_id is None:
        region_id = db.session.scalar(select(Comune.region_id).where(Comune.id == comune_id))
    event = AuditEvent(
        action=clean(action, MAX_ACTION),
        actor_id=actor.id if actor is not None else None,
        actor_role=_clean_optional(actor.role, MAX_ROLE) if actor is not None else None,
        ip=_clean_optional(ip, MAX_IP),
        object_type=_clean_optional(object_type, MAX_OBJECT_TYPE),
        object_id=_clean_optional(object_id, MAX_OBJECT_ID),
        comune_id=comune_id,
        region_id=region_id,
        details=clean_details(details) if details else None,
    )
    db.session.add(event)
    return event


def scope_territory(scope: Scope) -> dict[str, int | None]:
    """The ``comune_id``/``region_id`` of an event done over a coordinator's whole scope."""
    return {"comune_id": scope.comune_id, "region_id": scope.region_id}


# --- reading the trail -----------------------------------------------------------------


@dataclass(frozen=True)
class AuditSearch:
    """What the audit pages filter on; every field is optional."""

    action: str | None = None
    actor_email: str | None = None
    since: date | None = None
    until: date | None = None
    object_type: str | None = None
    object_id: str | None = None


def scope_condition(scope: Scope) -> ColumnElement[bool]:
    """Events about a comune or region inside ``scope``; events without a territory
    (an admin's own work, a trainer's login) belong to no coordinator's scope."""
    if scope.kind == "comune":
        return AuditEvent.comune_id == scope.comune_id
    if scope.kind == "region":
        return or_(
            AuditEvent.region_id == scope.region_id,
            AuditEvent.comune_id.in_(scope.comune_ids()),
        )
    return or_(AuditEvent.comune_id.is_not(None), AuditEvent.region_id.is_not(None))


def search_query(search: AuditSearch, scope: Scope | None = None) -> Select:
    """Events matching ``search`` (inside ``scope`` if given), newest first, with actors."""
    query = (
        select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    if scope is not None:
        query = query.where(scope_condition(scope))
    if search.action:
        query = query.where(AuditEvent.action == search.action)
    if search.actor_email:
        query = query.where(
            User.email.like(like_pattern(search.actor_email.strip().lower()), escape=LIKE_ESCAPE)
        )
    if search.since:
        start = datetime.combine(search.since, time(), TIME_ZONE)  # days in Rome
        query = query.where(AuditEvent.occurred_at >= start)
    if search.until:
        end = datetime.combine(search.until + timedelta(days=1), time(), TIME_ZONE)
        query = query.where(AuditEvent.occurred_at < end)
    if search.object_type:
        query = query.where(AuditEvent.object_type == search.object_type.strip())
    if search.object_id:
        query = query.where(AuditEvent.object_id == search.object_id.strip())
    return query


def object_types() -> list[str]:
    """The object types present in the trail, for the search form."""
    return sorted(
        t
        for t in db.session.scalars(
            select(AuditEvent.object_type).where(AuditEvent.object_type.is_not(None)).distinct()
        )
        if t
    )

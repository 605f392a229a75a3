"""The audit trail in the web layer: recording from a view (the actor is the logged-in
user, the address the client's, as ProxyFix sees it when PROXY_FIX_X_FOR is set) and the
search form and page shared by the admins' and the coordinators' registers."""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectChoice, SelectField, StringField
from wtforms.validators import Length, Optional

from lgnetforma.extensions import db
from lgnetforma.models import AuditEvent, Comune, Region, User
from lgnetforma.services.coordination.scope import Scope
from lgnetforma.services.platform.audit import ACTIONS, AuditSearch, record, search_query
from lgnetforma.web.forms import strip
from lgnetforma.web.urls import RowPage

PAGE_SIZE = 50
_UNSET: Any = object()


def audit(action: str, *, actor: User | None = _UNSET, **kwargs: Any) -> AuditEvent:
    """``services.audit.record`` with this request's user and address; the caller commits."""
    if actor is _UNSET:
        actor = current_user._get_current_object() if current_user.is_authenticated else None  # type: ignore[attr-defined]
    return record(action, actor=actor, ip=request.remote_addr, **kwargs)


class AuditSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a search: GET, changes nothing

    action = SelectField(
        _l("Azione"),
        choices=[SelectChoice("", _l("Tutte")), *(SelectChoice(k, v) for k, v in ACTIONS.items())],
        validators=[Optional()],
    )
    actor = StringField(
        _l("Email di chi ha agito"),
        validators=[Optional(), Length(max=254)],
        filters=[strip],
        description=_l("Anche solo una parte, ad esempio «@comune.roma.it»."),
    )
    since = DateField(
        _l("Dal giorno (ora di Roma)"),
        validators=[Optional()],
        description=_l("Ad esempio 2026-01-31."),
    )
    until = DateField(
        _l("Al giorno (ora di Roma)"),
        validators=[Optional()],
        description=_l("Compreso."),
    )
    object_type = StringField(
        _l("Tipo di oggetto"),
        validators=[Optional(), Length(max=50)],
        filters=[strip],
        description=_l("Ad esempio user, enrolment, certificate."),
    )
    object_id = StringField(
        _l("Identificativo dell'oggetto"),
        validators=[Optional(), Length(max=64)],
        filters=[strip],
    )

    def search(self) -> AuditSearch:
        return AuditSearch(
            action=self.action.data or None,
            actor_email=(self.actor.data or None) if "actor" in self else None,
            since=self.since.data,
            until=self.until.data,
            object_type=self.object_type.data or None,
            object_id=self.object_id.data or None,
        )


def audit_page(template: str, scope: Scope | None) -> tuple[str, int]:
    """One page of the trail, newest first, filtered by the form (and by ``scope``)."""
    form = AuditSearchForm(request.args)
    if scope is not None:
        # Coordinators do not see the actors' emails, so they cannot search by them either.
        del form.actor
    valid = form.validate() if request.args else True
    search = form.search() if valid else AuditSearch()
    page = RowPage(
        search_query(search, scope),
        page=request.args.get("page", 1, type=int),
        per_page=PAGE_SIZE,
    )
    events = [event for event, _actor in page.items]
    comune_ids = {e.comune_id for e in events if e.comune_id}
    region_ids = {e.region_id for e in events if e.region_id}
    comuni = dict(
        db.session.execute(select(Comune.id, Comune.name).where(Comune.id.in_(comune_ids))).all()
    )
    regions = dict(
        db.session.execute(select(Region.id, Region.name).where(Region.id.in_(region_ids))).all()
    )
    return render_template(
        template,
        form=form,
        page=page,
        actions=ACTIONS,
        comuni=comuni,
        regions=regions,
    ), (200 if valid else 400)

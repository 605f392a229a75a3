"""Views of the administration area (admins only)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from lgnetforma.extensions import db
from lgnetforma.models import Comune, Region, User, utcnow
from lgnetforma.services.coordination.registry import find_comune
from lgnetforma.services.people import accounts
from lgnetforma.services.people.users import regions, update_user, user_query
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import compose
from lgnetforma.web.access import roles_required
from lgnetforma.web.admin.forms import StaffCreateForm, UserEditForm, UserSearchForm
from lgnetforma.web.audit import audit, audit_page
from lgnetforma.web.urls import page_number

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 50


@bp.get("/utenti")
@roles_required("admin")
def users() -> str:
    form = UserSearchForm(request.args)
    page = db.paginate(
        user_query(text=form.q.data or "", role=form.role.data or ""),
        page=page_number(),
        per_page=PAGE_SIZE,
        error_out=False,
    )
    return render_template("admin/users.html", form=form, page=page)


def _fill_scope_choices(form: StaffCreateForm | UserEditForm) -> None:
    form.scope_region.choices = [SelectChoice("", _("Nessuna (nazionale)"))] + [
        SelectChoice(r.code, r.name) for r in regions()
    ]


def _scope_from_form(form: StaffCreateForm | UserEditForm) -> tuple[Region | None, Comune | None]:
    """The scope chosen in the form; errors are added to the form's fields."""
    region = comune = None
    if form.scope_region.data:
        region = db.session.scalar(db.select(Region).filter_by(code=form.scope_region.data))
    if form.scope_comune.data:
        matches = find_comune(form.scope_comune.data)
        if len(matches) != 1:
            form.scope_comune.errors.append(
                _("Comune non trovato o ambiguo: indica il codice ISTAT a 6 cifre.")
            )
            raise ValueError
        comune = matches[0]
    return region, comune


@bp.route("/utenti/nuovo", methods=["GET", "POST"])
@roles_required("admin")
def create_user() -> str | Response:
    form = StaffCreateForm()
    _fill_scope_choices(form)
    if form.validate_on_submit():
        try:
            region, comune = _scope_from_form(form)
            user = accounts.create_user(
                email=form.email.data,
                full_name=form.full_name.data,
                role=form.role.data,
                password=None,
                scope_region=region,
                scope_comune=comune,
            )
        except ValueError:
            db.session.rollback()
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            audit(
                "user.created",
                object_type="user",
                object_id=user.id,
                details=_audited_fields(user),
            )
            compose(
                user,
                "invitation",
                _l("Il tuo account LGNetforma"),
                "mail/invitation.txt",
                link=absolute_url("auth.reset", token=accounts.reset_token(user)),
            )
            db.session.commit()
            flash(
                _(
                    "Account creato per %(name)s: l'invito per scegliere la password è in coda "
                    "e partirà nei prossimi minuti.",
                    name=user.full_name,
                ),
                "success",
            )
            return redirect(url_for("admin.users"))
    return render_template("admin/user_create.html", form=form)


@bp.route("/utenti/<int:user_id>", methods=["GET", "POST"])
@roles_required("admin")
def edit_user(user_id: int) -> str | Response:
    user = db.session.get(User, user_id) or abort(404)
    # On POST the submitted values take precedence over these.
    form = UserEditForm(
        data={
            "full_name": user.full_name,
            "role": user.role,
            "active": user.is_active_account,
            "scope_region": user.scope_region.code if user.scope_region else "",
            "scope_comune": user.scope_comune.istat_code if user.scope_comune else "",
        }
    )
    _fill_scope_choices(form)
    if form.validate_on_submit():
        before = _audited_fields(user)
        try:
            region, comune = _scope_from_form(form)
            update_user(
                user,
                full_name=form.full_name.data,
                role=form.role.data,
                active=form.active.data,
                scope_region=region,
                scope_comune=comune,
                acting_user=current_user,
            )
        except ValueError:
            db.session.rollback()
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error)
        else:
            _audit_changes(user, before)
            db.session.commit()
            flash(_("Modifiche salvate."), "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_edit.html", form=form, user=user)


@bp.post("/utenti/<int:user_id>/conferma")
@roles_required("admin")
def confirm_user(user_id: int) -> Response:
    """Confirm an address by hand (the person showed it to the admin another way)."""
    user = db.session.get(User, user_id) or abort(404)
    if FlaskForm().validate_on_submit() and not user.is_confirmed and user.deleted_at is None:
        user.is_confirmed, user.confirmed_at = True, utcnow()
        audit(
            "user.confirmed_by_admin",
            object_type="user",
            object_id=user.id,
            comune_id=user.comune_id,
        )
        db.session.commit()
        flash(
            _("Indirizzo di %(name)s confermato: ora può accedere.", name=user.full_name), "success"
        )
    return redirect(url_for("admin.edit_user", user_id=user.id))


@bp.post("/utenti/<int:user_id>/conferma/invia")
@roles_required("admin")
def resend_user_confirmation(user_id: int) -> Response:
    """Queue a new confirmation link for an account still waiting for one."""
    from lgnetforma.web.auth.routes import queue_confirmation

    user = db.session.get(User, user_id) or abort(404)
    if FlaskForm().validate_on_submit() and not user.is_confirmed and user.deleted_at is None:
        queue_confirmation(user)
        audit(
            "user.confirmation_resent",
            object_type="user",
            object_id=user.id,
            comune_id=user.comune_id,
        )
        db.session.commit()
        flash(
            _(
                "Nuovo link di conferma in coda per %(email)s: partirà nei prossimi minuti.",
                email=user.email,
            ),
            "success",
        )
    return redirect(url_for("admin.edit_user", user_id=user.id))


def _audited_fields(user: User) -> dict[str, object]:
    return {
        "full_name": user.full_name,
        "role": user.role,
        "active": user.is_active_account,
        "scope_region": user.scope_region.code if user.scope_region else None,
        "scope_comune": user.scope_comune.istat_code if user.scope_comune else None,
    }


def _audit_changes(user: User, before: dict[str, object]) -> None:
    """One event for a change of role, scope or name; one for (de)activation."""
    after = _audited_fields(user)
    territory = {"object_type": "user", "object_id": user.id, "comune_id": user.comune_id}
    changes = {
        name: [before[name], after[name]]
        for name in after
        if name != "active" and before[name] != after[name]
    }
    if changes:
        audit("user.updated", details=changes, **territory)
    if before["active"] and not after["active"]:
        audit("user.deactivated", **territory)
    elif after["active"] and not before["active"]:
        audit("user.reactivated", **territory)


def _field_error(form: StaffCreateForm | UserEditForm, error: ServiceError) -> None:
    field = getattr(form, error.field or "", None) or form.full_name
    if error.field == "scope":
        field = form.scope_comune
    field.errors = [*field.errors, str(error)]


@bp.get("/registro")
@roles_required("admin")
def audit_log() -> tuple[str, int]:
    """The whole audit trail, searchable, newest first."""
    return audit_page("admin/audit.html", scope=None)

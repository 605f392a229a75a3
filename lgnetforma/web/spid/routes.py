"""SPID/CIE views: /spid/metadata, /spid/login, /spid/acs, /spid/slo, /spid/completa."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import SIG_RSA_SHA256
from sqlalchemy import select

from lgnetforma.extensions import csrf, db
from lgnetforma.models import SamlRequest, User
from lgnetforma.services.coordination.registry import eligible_comuni
from lgnetforma.services.people import accounts, identity
from lgnetforma.services.people import identity_accounts as people
from lgnetforma.services.people.personal_data import delete_account
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.web.audit import audit
from lgnetforma.web.spid.forms import CompletionForm, LinkForm
from lgnetforma.web.urls import safe_next_url

bp = Blueprint("spid", __name__, url_prefix="/spid")
PENDING = "spid_pending"  # the asserted identity, between the ACS and the completion page


def _require_configured() -> None:
    if not identity.configured():
        abort(404)


@bp.get("/metadata")
def metadata() -> Response:
    _require_configured()
    return Response(identity.sp_metadata(), mimetype="application/samlmetadata+xml")


@bp.get("/metadata/cie")
def metadata_cie() -> Response:
    """The same service provider described for the CIE federation (its own schema)."""
    _require_configured()
    return Response(identity.sp_metadata("cie"), mimetype="application/samlmetadata+xml")


@bp.get("/login")
def login() -> Response:
    _require_configured()
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    idp = request.args.get("idp", "")
    try:
        location = identity.start_login(idp, next_url=safe_next_url(request.args.get("next")))
    except ServiceError as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.login"))
    response = redirect(location)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/collega")
@login_required
def link() -> str | Response:
    """From the profile: the password first, then the IdP proves the fiscal code."""
    _require_configured()
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = LinkForm()
    if form.validate_on_submit():
        if accounts.authenticate(user.email, form.password.data) is None:
            flash(
                _("La password attuale non è corretta: nessun collegamento è stato fatto."),
                "danger",
            )
            return redirect(url_for("auth.profile", _anchor="spid"))
        try:
            location = identity.start_login(form.idp.data, purpose="link", user_id=user.id)
        except ServiceError as error:
            flash(str(error), "danger")
            return redirect(url_for("auth.profile", _anchor="spid"))
        return redirect(location)
    flash(_("Indica la password attuale per collegare SPID o CIE."), "danger")
    return redirect(url_for("auth.profile", _anchor="spid"))


@bp.post("/elimina")
@login_required
def delete() -> Response:
    """Deleting an account without a password: the person proves it is them with SPID/CIE."""
    _require_configured()
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    if request.form.get("confirm") != "y" or not user.fiscal_code:
        flash(_("Conferma di aver capito che l'account sarà cancellato."), "danger")
        return redirect(url_for("auth.profile"))
    try:
        location = identity.start_login(
            request.form.get("idp", ""), purpose="delete", user_id=user.id
        )
    except ServiceError as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.profile"))
    return redirect(location)


@bp.post("/acs")
@csrf.exempt  # posted by the IdP; the signed, stored-request checks take CSRF's place
def acs() -> str | Response:
    _require_configured()
    from lgnetforma.web.auth.routes import _start_session

    try:
        person, sent = identity.finish_login(request.form.get("SAMLResponse", ""))
    except identity.SpidError as error:
        db.session.rollback()
        audit("spid.refused", actor=None, details={"reason": error.reason[:300]})
        db.session.commit()
        current_app.logger.warning("SPID response refused: %s", error.reason)
        return render_template("spid/refused.html", message=str(error)), 403
    if sent.purpose == "delete":
        return _delete_confirmed(sent, person)
    if sent.purpose == "link":
        user = db.session.get(User, sent.user_id) if sent.user_id else None
        if user is None or not user.is_active:
            abort(403)
        try:
            people.link(user, person)
        except ServiceError as error:
            db.session.rollback()
            flash(str(error), "danger")
            return redirect(url_for("auth.login"))
        audit("spid.linked", actor=user, object_type="user", object_id=user.id)
        _remember_name_id(sent, person, user)
        _start_session(user, remember=False)
        flash(_("SPID/CIE collegato al tuo account."), "success")
        return redirect(url_for("auth.profile", _anchor="spid"))
    user = people.user_by_fiscal_code(person.fiscal_code)
    if user is None:
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        session[PENDING] = {**asdict(person), "request": sent.id}
        return redirect(url_for("spid.complete"))
    if not user.is_active:
        return render_template("spid/refused.html", message=_("Questo account è disattivato.")), 403
    people.refresh_from_identity(user, person)
    _remember_name_id(sent, person, user)
    _start_session(user, remember=False)
    flash(_("Benvenuto, %(name)s.", name=user.full_name), "success")
    return redirect(safe_next_url(sent.next_url))


def _delete_confirmed(sent: SamlRequest, person: identity.Identity) -> Response:
    user = db.session.get(User, sent.user_id) if sent.user_id else None
    if user is None or user.fiscal_code != person.fiscal_code:
        return render_template(
            "spid/refused.html",
            message=_("L'identità digitale non è quella dell'account: nulla è stato cancellato."),
        ), 403
    audit(
        "account.deleted",
        actor=user,
        object_type="user",
        object_id=user.id,
        comune_id=user.comune_id,
    )
    delete_account(user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("Il tuo account è stato eliminato."), "info")
    return redirect(url_for("public.home"))


def _remember_name_id(sent: SamlRequest, person: identity.Identity, user: User) -> None:
    """For the IdP's single logout: which account this NameID logged in."""
    sent.name_id = person.name_id[:200] or None
    sent.user_id = user.id


@bp.route("/completa", methods=["GET", "POST"])
def complete() -> str | Response:
    """The first SPID/CIE login of an unknown person: comune and privacy notice."""
    _require_configured()
    from lgnetforma.web.auth.routes import _resolve_comune, _start_session, queue_confirmation

    pending = session.get(PENDING)
    if not pending:
        return redirect(url_for("auth.login"))
    person = identity.Identity(**{k: v for k, v in pending.items() if k != "request"})
    cycle = current_cycle()
    form = CompletionForm()
    if request.method == "GET":
        form.email.data = person.email
    form.comune.description = _(
        "Scrivi il nome del comune o il suo codice ISTAT e scegli dall'elenco. "
        "Possono partecipare i comuni con più di %(threshold)s abitanti.",
        threshold=f"{cycle.population_threshold:,}".replace(",", "."),
    )
    if form.validate_on_submit():
        comune = _resolve_comune(form)  # type: ignore[arg-type]
        if comune is not None:
            try:
                user = people.register_operator(
                    identity=person, email=form.email.data, comune=comune, cycle=cycle
                )
            except ServiceError as error:
                db.session.rollback()
                getattr(form, error.field or "email").errors.append(str(error))
            else:
                audit(
                    "account.created_spid",
                    actor=user,
                    object_type="user",
                    object_id=user.id,
                    comune_id=user.comune_id,
                )
                sent = db.session.get(SamlRequest, pending.get("request"))
                if sent is not None:
                    _remember_name_id(sent, person, user)
                if not user.is_confirmed:
                    queue_confirmation(user)  # in the same transaction; the worker sends it
                db.session.commit()
                _start_session(user, remember=False)
                flash(_("Benvenuto, %(name)s.", name=user.full_name), "success")
                return redirect(url_for("public.home"))
    return render_template(
        "spid/complete.html", form=form, person=person, comuni=eligible_comuni(cycle)
    )


@bp.route("/slo", methods=["GET", "POST"])
@csrf.exempt  # the IdP's signed LogoutRequest
def slo() -> Response:
    """Single logout started by the IdP: every session of that person here ends."""
    _require_configured()
    binding = BINDING_HTTP_POST if request.method == "POST" else BINDING_HTTP_REDIRECT
    values = request.form if request.method == "POST" else request.args
    message = values.get("SAMLRequest")
    if not message:
        abort(400)
    client = identity.client()
    try:
        parsed = client.parse_logout_request(message, binding, relay_state=values.get("RelayState"))
        issuer = parsed.message.issuer.text.strip() if parsed.message.issuer is not None else ""
        signed = _logout_request_signed(client, binding, values, parsed, issuer)
    except Exception as error:  # noqa: BLE001 - anything pysaml2 refuses
        current_app.logger.warning("SPID logout request refused: %s", error)
        abort(403)
    if not signed:
        current_app.logger.warning("SPID logout request refused: signature not verified")
        abort(403)
    name_id = parsed.message.name_id.text if parsed.message.name_id is not None else ""
    if name_id:
        for sent in db.session.scalars(
            select(SamlRequest).where(
                SamlRequest.name_id == name_id, SamlRequest.idp_entity_id == issuer
            )
        ):
            user = db.session.get(User, sent.user_id) if sent.user_id else None
            if user is not None:
                user.session_version += 1
                audit("logout.spid", actor=None, object_type="user", object_id=user.id)
        db.session.commit()
    destination = client.metadata.single_logout_service(issuer, BINDING_HTTP_REDIRECT, "idpsso")
    if not destination:
        return redirect(url_for("public.home"))
    reply = client.create_logout_response(parsed.message, [BINDING_HTTP_REDIRECT])
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(reply),
        destination[0]["location"],
        relay_state=values.get("RelayState"),
        response=True,
        sign=True,
        sigalg=SIG_RSA_SHA256,
    )
    return redirect(dict(info["headers"])["Location"])


def _logout_request_signed(
    client: Any, binding: str, values: Any, parsed: Any, issuer: str
) -> bool:
    """An IdP's logout request must be signed by a key in that IdP's trusted metadata:
    in the query string (HTTP-Redirect) or in the XML (HTTP-POST)."""
    if issuer not in {idp["entity_id"] for idp in identity.identity_providers()}:
        return False
    if binding == BINDING_HTTP_POST:
        return bool(
            parsed.message.signature is not None
            and client.sec.correctly_signed_logout_request(parsed.xmlstr, must=True)
        )
    if not (values.get("SigAlg") and values.get("Signature")):
        return False
    message = {
        key: values[key]
        for key in ("SAMLRequest", "RelayState", "SigAlg", "Signature")
        if key in values
    }
    return any(
        verify_redirect_signature(message, client.sec.sec_backend, cert)
        for _name, cert in client.metadata.certs(issuer, "idpsso", "signing")
    )

"""Views of the accounts area."""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from lgnetforma.extensions import db
from lgnetforma.models import User, utcnow
from lgnetforma.services import accounts
from lgnetforma.services.cycles import current_cycle
from lgnetforma.services.errors import ServiceError
from lgnetforma.services.mail import send_mail
from lgnetforma.services.personal_data import delete_account, export_data
from lgnetforma.services.registry import eligible_comuni, find_comune
from lgnetforma.web.auth.forms import (
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from lgnetforma.web.urls import safe_next_url

bp = Blueprint("auth", __name__)

MAIL_QUEUED = _l(
    "Il server di posta non risponde in questo momento: il messaggio è in coda e ti "
    "arriverà appena possibile."
)


def _send_confirmation(user: User) -> bool:
    link = url_for("auth.confirm", token=accounts.confirmation_token(user), _external=True)
    body = render_template("mail/confirm.txt", user=user, link=link)
    return send_mail(user.email, _("Conferma il tuo indirizzo email – LGNetforma"), body)


@bp.route("/registrazione", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    cycle = current_cycle()
    form = RegistrationForm()
    form.comune.description = _(
        "Scrivi il nome del comune o il suo codice ISTAT e scegli dall'elenco. "
        "Possono partecipare i comuni con più di %(threshold)s abitanti.",
        threshold=f"{cycle.population_threshold:,}".replace(",", "."),
    )
    if form.validate_on_submit():
        comune = _resolve_comune(form)
        if comune is not None:
            try:
                user = accounts.register_operator(
                    full_name=form.full_name.data,
                    email=form.email.data,
                    password=form.password.data,
                    comune=comune,
                    cycle=cycle,
                )
            except ServiceError as error:
                db.session.rollback()
                getattr(form, error.field or "email").errors.append(str(error))
            else:
                db.session.commit()
                delivered = _send_confirmation(user)
                return render_template(
                    "auth/registered.html", email=user.email, delivered=delivered
                )
    return render_template("auth/register.html", form=form, comuni=eligible_comuni(cycle))


def _resolve_comune(form: RegistrationForm):  # noqa: ANN202
    matches = find_comune(form.comune.data)
    if not matches:
        form.comune.errors.append(
            _(
                "Nessun comune trovato per «%(text)s»: scegli un comune dall'elenco.",
                text=form.comune.data,
            )
        )
        return None
    if len(matches) > 1:
        form.comune.errors.append(
            _(
                "Più comuni si chiamano «%(text)s»: indica anche la provincia, "
                "ad esempio «%(example)s».",
                text=form.comune.data,
                example=f"{matches[0].name} ({matches[0].province.abbreviation})",
            )
        )
        return None
    return matches[0]


@bp.get("/conferma/<token>")
def confirm(token: str) -> Response:
    try:
        accounts.confirm_email(token)
    except ServiceError as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.login"))
    db.session.commit()
    flash(_("Indirizzo email confermato: ora puoi accedere."), "success")
    return redirect(url_for("auth.login"))


@bp.route("/accesso", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is None or not user.is_active:
            form.form_errors.append(_("Email o password non corretti."))
        elif not user.is_confirmed:
            delivered = _send_confirmation(user)
            form.form_errors.append(
                _(
                    "Devi ancora confermare il tuo indirizzo email: ti abbiamo inviato di "
                    "nuovo il link di conferma."
                )
                + ("" if delivered else " " + str(MAIL_QUEUED))
            )
        else:
            _start_session(user, remember=form.remember.data)
            flash(_("Benvenuto, %(name)s.", name=user.full_name), "success")
            return redirect(safe_next_url(request.args.get("next")))
    return render_template("auth/login.html", form=form)


def _start_session(user: User, *, remember: bool) -> None:
    """A fresh session on login (no fixation), keeping only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)
    user.last_login_at = utcnow()
    db.session.commit()


@bp.post("/esci")
def logout() -> Response:
    if current_user.is_authenticated:
        # Invalidate every session and remember-me cookie of this user, not just this one.
        current_user.session_version += 1
        db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Sei uscito da LGNetforma."), "info")
    return redirect(url_for("public.home"))


@bp.route("/password/recupero", methods=["GET", "POST"])
def reset_request() -> str:
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = accounts.user_by_email(form.email.data)
        if user is not None and user.is_active:
            link = url_for("auth.reset", token=accounts.reset_token(user), _external=True)
            body = render_template("mail/reset.txt", user=user, link=link)
            send_mail(user.email, _("Reimposta la password – LGNetforma"), body)
        # The same answer whether or not the address is registered.
        return render_template("auth/reset_sent.html", email=form.email.data)
    return render_template("auth/reset_request.html", form=form)


@bp.route("/password/nuova/<token>", methods=["GET", "POST"])
def reset(token: str) -> str | Response:
    try:
        user = accounts.user_for_reset_token(token)
    except ServiceError as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.reset_request"))
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(user, form.password.data)
        except ServiceError as error:
            form.password.errors.append(str(error))
        else:
            if not user.is_confirmed:  # the mail link proves the address
                user.is_confirmed = True
                user.confirmed_at = utcnow()
            db.session.commit()
            flash(_("Password aggiornata: ora puoi accedere."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/reset.html", form=form)


@bp.route("/profilo", methods=["GET", "POST"])
@login_required
def profile() -> str | Response:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if accounts.authenticate(user.email, form.current_password.data) is None:
            form.current_password.errors.append(_("La password attuale non è corretta."))
        else:
            try:
                accounts.change_password(user, form.password.data)
            except ServiceError as error:
                form.password.errors.append(str(error))
            else:
                db.session.commit()
                login_user(user)  # stay logged in here with the new session version
                flash(_("Password aggiornata."), "success")
                return redirect(url_for("auth.profile"))
    return render_template(
        "auth/profile.html", form=form, delete_form=DeleteAccountForm(prefix="delete")
    )


@bp.get("/profilo/dati.json")
@login_required
def my_data() -> Response:
    data = export_data(current_user)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="lgnetforma-dati-personali.json"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.post("/profilo/elimina")
@login_required
def delete_me() -> str | Response:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = DeleteAccountForm(prefix="delete")
    if form.validate_on_submit():
        if accounts.authenticate(user.email, form.password.data) is None:
            form.password.errors.append(_("La password attuale non è corretta."))
        else:
            delete_account(user)
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Il tuo account è stato eliminato."), "info")
            return redirect(url_for("public.home"))
    return render_template("auth/profile.html", form=ChangePasswordForm(), delete_form=form), 400

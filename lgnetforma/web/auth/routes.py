"""Views of the accounts area."""

from __future__ import annotations

import json

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import SQLAlchemyError

from lgnetforma import throttle
from lgnetforma.extensions import db, limiter
from lgnetforma.models import User, utcnow
from lgnetforma.services.coordination.registry import eligible_comuni, find_comune
from lgnetforma.services.people import accounts, password_reset
from lgnetforma.services.people.identity_accounts import password_login_allowed
from lgnetforma.services.people.personal_data import delete_account, export_data
from lgnetforma.services.people.tokens import create_token, revoke_token, token_of, tokens_of
from lgnetforma.services.platform.audit import typed_email
from lgnetforma.services.platform.cycles import current_cycle
from lgnetforma.services.platform.errors import ServiceError
from lgnetforma.services.platform.links import absolute_url
from lgnetforma.services.platform.mail import compose
from lgnetforma.throttle import Budget
from lgnetforma.web.audit import audit
from lgnetforma.web.auth.forms import (
    ApiTokenForm,
    ChangePasswordForm,
    DeleteAccountForm,
    LoginForm,
    RegistrationForm,
    ResendConfirmationForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from lgnetforma.web.errors import render_error
from lgnetforma.web.urls import safe_next_url

bp = Blueprint("auth", __name__)


def queue_confirmation(user: User) -> None:
    """Put a new confirmation link in the outbox (the caller commits; the worker sends)."""
    compose(
        user,
        "confirm",
        _l("Conferma il tuo indirizzo email – LGNetforma"),
        "mail/confirm.txt",
        link=absolute_url("auth.confirm", token=accounts.confirmation_token(user)),
    )


def _limit_breached(form_name: str):  # noqa: ANN202 - Flask-Limiter's on_breach hook
    """Note a flood of one form in the audit trail, once a minute per address."""

    def on_breach(_limit: object) -> None:
        ip = request.remote_addr or ""
        if throttle.once_per_minute("breach", form_name, ip):
            audit("rate_limited", details={"form": form_name})
            db.session.commit()

    return on_breach


@bp.route("/registrazione", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["REGISTER_LIMIT_PER_IP"],
    methods=["POST"],
    on_breach=_limit_breached("registrazione"),
)
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
                    locale=session.get("lang"),
                )
            except ServiceError as error:
                db.session.rollback()
                getattr(form, error.field or "email").errors.append(str(error))
            except accounts.EmailInUse as taken:
                # The same page as a new registration; the owner hears about it by mail.
                db.session.rollback()
                _queue_registration_attempt(taken.owner)
                db.session.commit()
                # The address as a new account would show it: normalised.
                email = accounts.normalise_email(form.email.data)
                return render_template("auth/registered.html", email=email)
            else:
                queue_confirmation(user)
                db.session.commit()
                return render_template("auth/registered.html", email=user.email)
    return render_template("auth/register.html", form=form, comuni=eligible_comuni(cycle))


def _queue_registration_attempt(owner: User) -> None:
    if owner.deleted_at is not None or not owner.is_active:
        return
    compose(
        owner,
        "register_existing",
        _l("Tentativo di registrazione con il tuo indirizzo – LGNetforma"),
        "mail/register_existing.txt",
        login_link=absolute_url("auth.login"),
        reset_link=absolute_url("auth.reset_request"),
    )


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


# --- login, with budgets against guessing ----------------------------------------------
#
# Three budgets count *failed* logins (see SECURITY.md, "Brute force"):
#   per address                LOGIN_LIMIT_PER_IP              20/minute
#   per account and address    LOGIN_LIMIT_PER_ACCOUNT_AND_IP  10/15 minutes
#   per account                LOGIN_LIMIT_PER_ACCOUNT         100/hour
# Windows move, so every block lifts by itself. The per-account ceiling only slows a guesser
# spread over many addresses; a browser that has logged in to the account before (a signed
# "known device" cookie) is exempt from it, so such an attack cannot lock the owner out.
# Accounts are keyed by the email as typed, so an unknown email is limited exactly like a
# known one and the answers never tell them apart.

KNOWN_DEVICE_COOKIE = "lgnetforma_device"
KNOWN_DEVICE_SALT = "lgnetforma-known-device"
KNOWN_DEVICE_ACCOUNTS = 5  # a shared office computer


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=KNOWN_DEVICE_SALT)


def _known_accounts() -> list[str]:
    value = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not value:
        return []
    try:
        accounts_seen = _device_serializer().loads(
            value, max_age=current_app.config["KNOWN_DEVICE_MAX_AGE"]
        )
    except BadSignature:
        return []
    if not isinstance(accounts_seen, list):
        return []
    return [a for a in accounts_seen if isinstance(a, str)]


def _remember_device(response: Response, account: str) -> None:
    seen = [account, *(a for a in _known_accounts() if a != account)][:KNOWN_DEVICE_ACCOUNTS]
    response.set_cookie(
        KNOWN_DEVICE_COOKIE,
        _device_serializer().dumps(seen),
        max_age=current_app.config["KNOWN_DEVICE_MAX_AGE"],
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )


def _login_budgets(email: str) -> tuple[Budget, Budget, Budget]:
    ip = request.remote_addr or "unknown"
    account = throttle.digest(accounts.normalise_email(email))
    return (
        Budget("LOGIN_LIMIT_PER_IP", (ip,)),
        Budget("LOGIN_LIMIT_PER_ACCOUNT_AND_IP", (account, ip)),
        Budget("LOGIN_LIMIT_PER_ACCOUNT", (account,)),
    )


def _too_many_attempts(budget: Budget) -> Response:
    """The same 429 page whoever the email belongs to, if anyone."""
    response = render_error(429)
    response.headers["Retry-After"] = str(throttle.retry_after(budget))
    return response


@bp.route("/accesso", methods=["GET", "POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("public.home"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data
        per_ip, per_account_ip, per_account = _login_budgets(email)
        account = per_account.key[0]
        checked = [per_ip, per_account_ip]
        if account not in _known_accounts():
            checked.append(per_account)
        blocked = throttle.exceeded(checked)
        if blocked is not None:
            # Refused before the password is even looked at.
            if throttle.once_per_minute("login", request.remote_addr or ""):
                audit("rate_limited", details={"form": "accesso", "email": typed_email(email)})
                db.session.commit()
            return _too_many_attempts(blocked)
        user = accounts.authenticate(email, form.password.data)
        if user is None or not user.is_active:
            _failed_login(email, (per_ip, per_account_ip, per_account))
            form.form_errors.append(_("Email o password non corretti."))
        elif not password_login_allowed(user):
            form.form_errors.append(
                _("Gli operatori entrano con SPID o CIE: usa i pulsanti qui sopra.")
            )
        elif not user.is_confirmed:
            form.form_errors.append(
                _(
                    "Devi ancora confermare il tuo indirizzo email con il link che ti abbiamo "
                    "scritto. Non lo trovi o è scaduto? Chiedine uno nuovo da «Non hai ricevuto "
                    "l'email di conferma?» qui sotto."
                )
            )
        else:
            throttle.forgive(per_account_ip)
            _start_session(user, remember=form.remember.data)
            flash(_("Ti diamo il benvenuto, %(name)s.", name=user.full_name), "success")
            response = redirect(safe_next_url(request.args.get("next")))
            _remember_device(response, account)
            return response
    return render_template("auth/login.html", form=form)


def _failed_login(email: str, budgets: tuple[Budget, Budget, Budget]) -> None:
    """Count the failure and write it down: the email as typed, never the password."""
    user = accounts.user_by_email(email)
    target = {
        "object_type": "user" if user else None,
        "object_id": user.id if user else None,
        "comune_id": user.comune_id if user else None,
    }
    typed = typed_email(email)
    audit("login.failed", actor=None, details={"email": typed}, **target)
    names = dict(zip(budgets, ("per_ip", "per_account_and_ip", "per_account"), strict=True))
    for budget in throttle.spend(budgets):
        details = {"email": typed, "limit": names[budget]}
        audit("login.locked", actor=None, details=details, **target)
    db.session.commit()


def _start_session(user: User, *, remember: bool) -> None:
    """A fresh session on login (no fixation), keeping only the chosen language.

    The login is written to the audit trail first: if the database refuses the write, the
    answer is 503 and no session cookie is issued (an unrecorded login never happens).
    """
    user.last_login_at = utcnow()
    audit("login", actor=user, object_type="user", object_id=user.id, comune_id=user.comune_id)
    try:
        db.session.commit()
    except SQLAlchemyError as error:
        db.session.rollback()
        current_app.logger.error("login not recorded, refused: %s", error)
        abort(503)
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    login_user(user, remember=remember)


@bp.post("/esci")
def logout() -> Response:
    if current_user.is_authenticated:
        # Invalidate every session and remember-me cookie of this user, not just this one.
        current_user.session_version += 1
        audit("logout", object_type="user", object_id=current_user.id)
        db.session.commit()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("Hai chiuso la sessione: a presto su LGNetforma."), "info")
    response = redirect(url_for("public.home"))
    # session.clear() dropped Flask-Login's own "clear the cookie" mark: delete it here.
    config = current_app.config
    response.delete_cookie(
        config.get("REMEMBER_COOKIE_NAME", "remember_token"),
        path=config.get("REMEMBER_COOKIE_PATH", "/"),
        domain=config.get("REMEMBER_COOKIE_DOMAIN"),
        secure=bool(config.get("REMEMBER_COOKIE_SECURE")),
        httponly=True,
        samesite=config.get("REMEMBER_COOKIE_SAMESITE"),
    )
    return response


@bp.route("/password/recupero", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["RESET_LIMIT_PER_IP"],
    methods=["POST"],
    on_breach=_limit_breached("password/recupero"),
)
def reset_request() -> str | Response:
    form = ResetRequestForm()
    if form.validate_on_submit():
        # Per email as typed, known or not: nobody can flood someone's inbox with links.
        per_email = Budget(
            "RESET_LIMIT_PER_EMAIL", (throttle.digest(accounts.normalise_email(form.email.data)),)
        )
        if throttle.exceeded([per_email]):
            return _too_many_attempts(per_email)
        throttle.spend([per_email])
        # The same work for any address: one row in the outbox, which the worker resolves
        # (a reset link to an active account, or nothing). No lookup here, no SMTP.
        password_reset.request_reset(form.email.data, locale=session.get("lang"))
        db.session.commit()
        # The same answer whether or not the address is registered.
        return render_template("auth/reset_sent.html", email=form.email.data)
    return render_template("auth/reset_request.html", form=form)


@bp.route("/conferma/nuovo-link", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["CONFIRM_RESEND_LIMIT_PER_IP"],
    methods=["POST"],
    on_breach=_limit_breached("conferma/nuovo-link"),
)
def resend_confirmation() -> str | Response:
    """A pending operator asks for a new confirmation link: the same answer whoever asks."""
    form = ResendConfirmationForm()
    if form.validate_on_submit():
        per_email = Budget(
            "CONFIRM_RESEND_LIMIT_PER_EMAIL",
            (throttle.digest(accounts.normalise_email(form.email.data)),),
        )
        if throttle.exceeded([per_email]):
            return _too_many_attempts(per_email)
        throttle.spend([per_email])
        user = accounts.user_by_email(form.email.data)
        if user is not None and user.is_active and not user.is_confirmed:
            queue_confirmation(user)
        db.session.commit()
        return render_template("auth/confirmation_queued.html", email=form.email.data)
    return render_template("auth/resend_confirmation.html", form=form)


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
            audit("password.reset", actor=user, object_type="user", object_id=user.id)
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
                audit("password.changed", object_type="user", object_id=user.id)
                db.session.commit()
                login_user(user)  # stay logged in here with the new session version
                flash(_("Password aggiornata."), "success")
                return redirect(url_for("auth.profile"))
    return render_template(
        "auth/profile.html",
        form=form,
        delete_form=DeleteAccountForm(prefix="delete"),
        **_token_section(user),
    )


@bp.get("/profilo/dati.json")
@login_required
def my_data() -> Response:
    data = export_data(current_user)
    audit("personal_data.exported", object_type="user", object_id=current_user.id)
    db.session.commit()
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
            audit(
                "account.deleted", object_type="user", object_id=user.id, comune_id=user.comune_id
            )
            delete_account(user)
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Il tuo account è stato eliminato."), "info")
            return redirect(url_for("public.home"))
    return render_template(
        "auth/profile.html", form=ChangePasswordForm(), delete_form=form, **_token_section(user)
    ), 400


# --- personal access tokens for the API ------------------------------------------------


def _token_section(
    user: User, form: ApiTokenForm | None = None, new_token: str | None = None
) -> dict:
    return {
        "token_form": form or ApiTokenForm(prefix="token"),
        "api_tokens": tokens_of(user),
        "new_token": new_token,
    }


@bp.post("/profilo/token")
@login_required
def create_api_token() -> str | Response | tuple[str, int]:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    form = ApiTokenForm(prefix="token")
    if form.validate_on_submit():
        try:
            token, plaintext = create_token(user, form.name.data)
        except ServiceError as error:
            db.session.rollback()
            form.name.errors.append(str(error))
        else:
            audit(
                "api_token.created",
                object_type="api_token",
                object_id=token.id,
                details={"prefix": token.prefix, "name": token.name},
            )
            db.session.commit()
            # Shown on this page only, never stored: rendered here rather than redirected,
            # so that the secret does not travel in the session cookie.
            html = render_template(
                "auth/profile.html",
                form=ChangePasswordForm(),
                delete_form=DeleteAccountForm(prefix="delete"),
                **_token_section(
                    user, ApiTokenForm(prefix="token", formdata=None), new_token=plaintext
                ),
            )
            return Response(html, headers={"Cache-Control": "no-store"})
    return render_template(
        "auth/profile.html",
        form=ChangePasswordForm(),
        delete_form=DeleteAccountForm(prefix="delete"),
        **_token_section(user, form=form),
    ), 400


@bp.post("/profilo/token/<int:token_id>/revoca")
@login_required
def revoke_api_token(token_id: int) -> Response:
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    token = token_of(user, token_id)
    if token is None:
        abort(404)
    if revoke_token(token, user):
        audit(
            "api_token.revoked",
            object_type="api_token",
            object_id=token.id,
            details={"prefix": token.prefix},
        )
        db.session.commit()
        flash(
            _("Token «%(name)s» revocato: non dà più accesso all'API.", name=token.name), "success"
        )
    else:
        flash(_("Il token «%(name)s» era già revocato.", name=token.name), "info")
    return redirect(url_for("auth.profile", _anchor="api-token"))
